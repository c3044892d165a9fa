// Taking over the seed's hand-made setup with the real engine: the locally built pulumi CLI and
// Kubernetes provider (scripts/toolchain), a file backend, and a private control plane
// (scripts/cluster) holding the seed's objects made with kubectl.
//
// The program is the Kubernetes half of SourceIpIngress (namespace, ProxyProtocolConfig,
// IngressController, NodePortService) under the same `adoptionOptions` and Service ordering; the
// HAProxy push through the command provider is engine.e2e.test.ts's part.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, ROOT, devStackFile, startCluster, until } from "./adopt-fixtures";
import { type PulumiProject, pulumiProject } from "./pulumi-cli";

let cluster: Cluster;
let project: PulumiProject;

const PROGRAM = `import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { adoptionOptions, isAdopted } from "${ROOT}/components/adopt";
import { IngressController } from "${ROOT}/components/controller/ingress-controller";
import { namespaceManifest } from "${ROOT}/components/controller/manifests";
import { NodePortService } from "${ROOT}/components/controller/node-port-service";
import { ProxyProtocolConfig } from "${ROOT}/components/controller/proxy-protocol-config";
import { settingsFromStackConfig } from "${ROOT}/components/stack-config";

const runtime = pulumi.runtime as typeof pulumi.runtime & { isConfigSecret?: (key: string) => boolean };
const s = settingsFromStackConfig(pulumi.runtime.allConfig(), (key) => runtime.isConfigSecret?.(key) ?? true);

// As components/source-ip-ingress.ts builds it, minus the load balancers.
class SourceIpIngress extends pulumi.ComponentResource {
  constructor(name: string) {
    super("ingress-haproxy:index:SourceIpIngress", name, {}, adoptionOptions(s, undefined));
    const { apiVersion: _a, kind: _k, ...nsArgs } = namespaceManifest(s);
    const namespace = new k8s.core.v1.Namespace(\`\${name}-namespace\`, nsArgs, { parent: this });
    const inNamespace = { parent: this, dependsOn: [namespace] };
    const config = new ProxyProtocolConfig(\`\${name}-config\`, { settings: s }, inNamespace);
    const controller = new IngressController(\`\${name}-controller\`, { settings: s }, { parent: this, dependsOn: [namespace, config] });
    const adoptsService = isAdopted(s, "Service", s.serviceName, s.namespace);
    new NodePortService(\`\${name}-service\`, { settings: s }, adoptsService ? { parent: this, dependsOn: [namespace, controller] } : inNamespace);
    this.registerOutputs({});
  }
}
new SourceIpIngress("ingress");
`;

const pulumi = (...args: string[]) => project.run(args);

/** A stack holding the dev stack file's settings, plus `extra` config lines. */
async function newStack(stack: string, extra: string): Promise<void> {
  writeFileSync(join(project.dir, `Pulumi.${stack}.yaml`), devStackFile(extra));
  expect((await pulumi("stack", "init", stack)).status).toBe(0);
  const r = await project.run(["config", "set", "--secret", "sshPrivateKey", "--stack", stack], { input: "not-used-without-load-balancers\n" });
  expect(r.status).toBe(0);
}

const svcIdentity = () => {
  const svc = cluster.json("get", "svc", "ingress", "-n", "nginx-ingress");
  return { uid: svc.metadata.uid, clusterIP: svc.spec.clusterIP, nodePorts: svc.spec.ports.map((p: any) => p.nodePort) };
};

beforeAll(() => {
  cluster = startCluster("/tmp/ihp-cluster-adopt-engine", 27600);
  project = pulumiProject("adopt-engine-", {
    env: cluster.env,
    passphrase: "adopt-e2e",
    nodeModules: true,
    files: {
      "Pulumi.yaml": "name: ingress-haproxy\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n",
      "package.json": '{ "name": "adopt-engine-test", "private": true }\n',
      "tsconfig.json": JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true } }),
      "index.ts": PROGRAM,
    },
  });
}, 600_000);
afterAll(() => {
  cluster?.down();
  project?.remove();
});

describe("without adopt", () => {
  it("preview is clean, but up fails on kubectl's Service fields and leaves the selector alone", async () => {
    cluster.resetSeed();
    await newStack("plain", "");
    const preview = await pulumi("preview", "--stack", "plain");
    expect(preview.status).toBe(0);
    expect(preview.out).toContain("+ 16 to create");
    const up = await pulumi("up", "--yes", "--skip-preview", "--stack", "plain");
    expect(up.status).toBe(1);
    expect(up.out).toContain(
      'Apply failed with 3 conflicts: conflicts with "kubectl-client-side-apply" using v1:\n' +
        "    - .spec.selector\n" +
        '    - .spec.ports[port=80,protocol="TCP"].targetPort\n' +
        '    - .spec.ports[port=443,protocol="TCP"].targetPort',
    );
    expect(cluster.json("get", "svc", "ingress", "-n", "nginx-ingress").spec.selector).toEqual({ name: "nginx-ingress" });
    // Forget this half-done stack without touching the cluster (a destroy would delete the namespace).
    expect((await pulumi("stack", "rm", "--force", "--yes", "--stack", "plain")).status).toBe(0);
  });
});

describe("with adopt", () => {
  let before: ReturnType<typeof svcIdentity>;

  it("up takes the Service, ConfigMap and Namespace over in place", async () => {
    cluster.resetSeed();
    before = svcIdentity();
    await newStack("adopt", "  ingress-haproxy:adopt: {}\n");
    const up = await pulumi("up", "--yes", "--skip-preview", "--stack", "adopt");
    expect(up.out).toContain("+ 16 created");
    expect(up.status).toBe(0);

    expect(svcIdentity()).toEqual(before);
    const svc = cluster.json("get", "svc", "ingress", "-n", "nginx-ingress", "--show-managed-fields");
    expect(svc.spec.selector).toEqual({ "app.kubernetes.io/name": "nginx-ingress", "app.kubernetes.io/component": "controller" });
    expect(svc.spec.ports.map((p: any) => p.targetPort)).toEqual(["http", "https"]);
    expect(svc.metadata.managedFields.map((f: any) => f.manager).filter((m: string) => m.startsWith("pulumi-kubernetes-"))).toHaveLength(1);
    expect(cluster.json("get", "cm", "nginx-config", "-n", "nginx-ingress").data).toEqual({
      "compute-full-forwarded-for": "true",
      "location-snippets": "proxy_set_header X-Forwarded-For $remote_addr;\ngrpc_set_header X-Forwarded-For $remote_addr;",
      "proxy-protocol": "True",
      "real-ip-header": "proxy_protocol",
      "real-ip-recursive": "False",
      "set-real-ip-from": "198.51.100.10/32",
      "use-forwarded-headers": "true",
      "use-proxy-protocol": "true",
    });
    const endpoints = await until("three DaemonSet endpoints", () => {
      const a = cluster.json("get", "endpointslices", "-n", "nginx-ingress", "-l", "kubernetes.io/service-name=ingress").items.flatMap((sl: any) => (sl.endpoints ?? []).map((e: any) => e.targetRef.name));
      return a.length === 3 ? a : undefined;
    });
    for (const pod of endpoints) expect(pod).toMatch(/^nginx-ingress-[a-z0-9]{5}$/);
  });

  it("the state marks exactly the adopted objects retainOnDelete", async () => {
    const state = JSON.parse((await pulumi("stack", "export", "--stack", "adopt")).stdout);
    const retained = state.deployment.resources.filter((r: any) => r.retainOnDelete).map((r: any) => r.urn.split("::").pop());
    expect(retained).toEqual(["ingress-namespace", "ingress-config-configmap-nginx-config", "ingress-service-service-ingress"]);
  });

  it("destroy deletes what Pulumi created and keeps the adopted objects, same UID", async () => {
    const destroy = await pulumi("destroy", "--yes", "--skip-preview", "--stack", "adopt");
    expect(destroy.status).toBe(0);
    expect(destroy.out.match(/deleted \([0-9.]+s\)\[retain\]/g)).toHaveLength(3);
    expect(svcIdentity()).toEqual(before);
    expect(cluster.kubectl("get", "ns", "nginx-ingress", "-o", "name").trim()).toBe("namespace/nginx-ingress");
    expect(cluster.kubectl("get", "cm", "nginx-config", "-n", "nginx-ingress", "-o", "name").trim()).toBe("configmap/nginx-config");
    expect(cluster.kubectl("get", "ds,sa,networkpolicy", "-n", "nginx-ingress", "-o", "name").trim()).toBe("serviceaccount/default");
    expect(cluster.kubectl("get", "deploy", "-n", "nginx-ingress", "-o", "name").trim()).toBe("deployment.apps/ingress-controller");
    // The retained Service still selects the deleted DaemonSet's pods: docs/migrating.md, "Going back".
    expect(cluster.json("get", "svc", "ingress", "-n", "nginx-ingress").spec.selector).toEqual({ "app.kubernetes.io/name": "nginx-ingress", "app.kubernetes.io/component": "controller" });
  });
});
