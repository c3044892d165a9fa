// The whole program (index.ts) under Pulumi mocks: stack config in, exact resource graph and stack
// outputs out; bad config fails before any resource is registered.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sha256 } from "../../components/controller/manifests";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { configDigest, digestKey } from "../../components/haproxy/digest";
import { pushCommand, restoreCommand } from "../../components/haproxy/push-script";
import { readableHaproxyConfig } from "../../components/haproxy/readable";
import { devRaw, settingsOf } from "../fixtures/settings";
import { TEST_SSH_KEY as SSH_KEY, runProgram, stackConfig } from "../fixtures/program";
import { installMocks, isSecretInput, recorded, registeredSorted, settled, unwrapSecret, valueOf } from "../fixtures/mocks";

beforeAll(installMocks);
beforeEach(() => {
  recorded.length = 0;
});

describe("index.ts on the dev stack", () => {
  it("registers exactly the expected resources and exports the outputs", async () => {
    stackConfig(devRaw(), { sshPrivateKey: SSH_KEY });
    const out = await runProgram();
    expect(await registeredSorted()).toEqual([
      "command:remote:Command ingress-lb-lb-1-push",
      "ingress-haproxy:controller:IngressController ingress-controller",
      "ingress-haproxy:controller:NodePortService ingress-service",
      "ingress-haproxy:controller:ProxyProtocolConfig ingress-config",
      "ingress-haproxy:haproxy:HaproxyLoadBalancer ingress-lb-lb-1",
      "ingress-haproxy:index:SourceIpIngress ingress",
      "ingress-haproxy:weave:WeaveNoMasqLocal ingress-weave",
      "kubernetes:apps/v1:DaemonSet ingress-controller-daemonset-nginx-ingress",
      "kubernetes:apps/v1:DaemonSetPatch ingress-weave-weave-net-weave",
      "kubernetes:core/v1:ConfigMap ingress-config-configmap-nginx-config",
      "kubernetes:core/v1:Namespace ingress-namespace",
      "kubernetes:core/v1:Service ingress-service-service-ingress",
      "kubernetes:core/v1:ServiceAccount ingress-controller-serviceaccount-nginx-ingress",
      "kubernetes:networking.k8s.io/v1:IngressClass ingress-controller-ingressclass-nginx",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy ingress-service-networkpolicy-nginx-ingress-proxy-sources",
      "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole ingress-controller-clusterrole-nginx-ingress-nginx-ingress",
      "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding ingress-controller-clusterrolebinding-nginx-ingress-nginx-ingress",
      "kubernetes:rbac.authorization.k8s.io/v1:Role ingress-controller-role-nginx-ingress",
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding ingress-controller-rolebinding-nginx-ingress",
    ]);
    const s = settingsOf(devRaw());
    const expectedConfig = renderHaproxyConfig(s, s.loadBalancers[0]);
    expect(await valueOf(out.nodePorts)).toEqual({ http: 30111, https: 30112 });
    expect(await valueOf(out.namespace)).toBe("nginx-ingress");
    expect(await valueOf(out.serviceName)).toBe("ingress");
    expect(await valueOf(out.keepalived)).toBeNull();
    expect(await valueOf(out.backends)).toEqual({
      http: ["192.0.2.11:30111", "192.0.2.12:30111", "192.0.2.13:30111"],
      https: ["192.0.2.11:30112", "192.0.2.12:30112", "192.0.2.13:30112"],
    });
    expect(await valueOf(out.loadBalancers)).toEqual({
      "lb-1": { address: "198.51.100.10", configPath: "/etc/haproxy/haproxy.cfg", configSha256: sha256(expectedConfig) },
    });
    // No secret in this file: the readable copy a preview diff shows is the pushed file itself.
    expect(await pulumi.isSecret(out.haproxyConfigs)).toBe(false);
    expect(await valueOf(out.haproxyConfigs)).toEqual({ "lb-1": expectedConfig });

    const push = recorded.find((r) => r.type === "command:remote:Command")!;
    const input = { content: expectedConfig, digestKey: digestKey(SSH_KEY), owner: "ingress-haproxy:test:ingress-lb-lb-1-push" };
    // A secret-free haproxy.cfg goes as it is; stdin is secret anyway (derived from the SSH key).
    expect(unwrapSecret(push.inputs.stdin)).toBe(expectedConfig);
    expect(push.inputs.create).toBe(pushCommand(s, s.loadBalancers[0], input).command);
    expect(push.inputs.create).toContain(`EXPECT_DIGEST='\\''sha256:${sha256(expectedConfig)}'\\''`);
    expect(push.inputs.delete).toBe(restoreCommand(s, s.loadBalancers[0], input).command);
    expect(push.inputs.logging).toBe("stdoutAndStderr");
    expect(push.inputs.addPreviousOutputInEnv).toBe(false);
    // The connection carries the private key, so the engine stores all of it as a secret.
    expect(unwrapSecret(push.inputs.connection)).toEqual({
      host: "198.51.100.10",
      port: 22,
      user: "root",
      privateKey: SSH_KEY,
      hostKey: s.loadBalancers[0].hostKey,
      dialErrorLimit: 3,
      perDialTimeout: 10,
    });
  });

  it("keeps secrets secret: the SSH key, and the whole config when it carries stats credentials", async () => {
    const raw = { ...devRaw(), haproxy: { stats: { enabled: true } } };
    stackConfig(raw, { sshPrivateKey: SSH_KEY, statsPassword: "s3cret-pw" });
    const out = await runProgram();
    const push = (await settled()).find((r) => r.type === "command:remote:Command")!;
    const s = settingsOf(raw);
    const expectedConfig = renderHaproxyConfig(s, s.loadBalancers[0], { statsPassword: "s3cret-pw" });
    expect(isSecretInput(push.inputs.stdin)).toBe(true);
    // The file holds the stats password hash: its digests are keyed (the key line goes first on stdin).
    const key = digestKey(SSH_KEY);
    expect(unwrapSecret(push.inputs.stdin)).toBe(`digest-key ${key}\n${expectedConfig}`);
    expect(expectedConfig).not.toContain("s3cret-pw");
    expect(unwrapSecret<{ privateKey: string }>(push.inputs.connection).privateKey).toBe(SSH_KEY);
    const keyed = configDigest(expectedConfig, "hmac-sha256", key);
    expect(push.inputs.create).toContain(`EXPECT_DIGEST='\\''${keyed}'\\''`);
    expect(push.inputs.create).not.toContain(sha256(expectedConfig));
    // The keyed digest stays readable for the drift check; the plain sha256 never leaves the stack.
    expect(await pulumi.isSecret(out.loadBalancers)).toBe(false);
    expect(await valueOf(out.loadBalancers)).toEqual({
      "lb-1": { address: "198.51.100.10", configPath: "/etc/haproxy/haproxy.cfg", configSha256: keyed },
    });
    // The readable copy stays plain (a preview diff shows its lines) and holds a placeholder, not the hash.
    expect(await pulumi.isSecret(out.haproxyConfigs)).toBe(false);
    const readable = readableHaproxyConfig(s, s.loadBalancers[0]).text;
    expect(await valueOf(out.haproxyConfigs)).toEqual({ "lb-1": readable });
    const hashLine = expectedConfig.split("\n").find((l) => l.includes(" password "))!;
    expect(hashLine).toMatch(/^    user stats password \$6\$/);
    expect(readable).not.toContain(hashLine.split(" ").pop());
    expect(readable).toContain("    user stats password <SECRET-NOT-RENDERED:statsPassword>\n");
  });

  it("adding a node changes only the load-balancer configs among the rendered inputs", async () => {
    const before = settingsOf(devRaw());
    const raw = devRaw();
    raw.nodes.push({ name: "node-4", address: "192.0.2.14" });
    const after = settingsOf(raw);
    expect(sha256(renderHaproxyConfig(after, after.loadBalancers[0]))).not.toBe(sha256(renderHaproxyConfig(before, before.loadBalancers[0])));
    const { controllerManifests } = await import("../../components/controller/manifests");
    expect(controllerManifests(after)).toEqual(controllerManifests(before));
  });
});

describe("index.ts with bad config", () => {
  it("throws one SettingsError and registers nothing", async () => {
    const raw = devRaw();
    raw.nodes[0].address = "192.0.2.256";
    raw.nodePorts = { http: 30111, https: 40000 };
    stackConfig(raw, {});
    await expect(runProgram()).rejects.toThrow(
      "Invalid stack configuration (3 problems); nothing was created or pushed:\n" +
        "  - ingress-haproxy:nodePorts.https: 40000 is above the NodePort range; choose a port between 30000 and 32767\n" +
        '  - ingress-haproxy:nodes[0].address: "192.0.2.256" is not an IPv4 or IPv6 address; write a bare address such as 192.0.2.11 or 2001:db8::11 (no port, no prefix length)\n' +
        "  - ingress-haproxy:sshPrivateKey: is required: the SSH private key for the load-balancer hosts; set it with `cat KEYFILE | pulumi config set --secret sshPrivateKey`\n",
    );
    expect(await settled()).toEqual([]);
  });
});
