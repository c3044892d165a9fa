// index.ts under Pulumi mocks with keepalived on: one keepalived push per LB host (and, when HAProxy
// binds the floating address, one nonlocal-bind step per host), vrrpPassword kept secret, outputs with
// the floating addresses, each host's role and keepalived.conf hash.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { configDigest, digestKey } from "../../components/haproxy/digest";
import {
  keepalivedPushCommand,
  keepalivedRestoreCommand,
  nonlocalBindCommand,
  nonlocalBindDeleteCommand,
  renderKeepalivedConfig,
} from "../../components/keepalived/config";
import { TEST_SSH_KEY as SSH_KEY, runProgram, stackConfig } from "../fixtures/program";
import { installMocks, isSecretInput, recorded, registeredSorted, settled, unwrapSecret, valueOf } from "../fixtures/mocks";
import { pairRaw, pairSettings } from "./cases";

const VRRP = "vrrp-secret-for-tests";

const commands = () => recorded.filter((r) => r.type === "command:remote:Command");
const byName = (name: string) => {
  const r = recorded.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name}`);
  return r;
};

beforeAll(installMocks);
beforeEach(() => {
  recorded.length = 0;
});

describe("index.ts with keepalived on an LB pair", () => {
  it("one keepalived push per host beside its haproxy push; secret config; roles and hashes in the outputs", async () => {
    stackConfig(pairRaw(), { sshPrivateKey: SSH_KEY, vrrpPassword: VRRP });
    const out = await runProgram();
    const lbResources = (await registeredSorted()).filter((r) => r.includes("-lb-"));
    expect(lbResources).toEqual([
      "command:remote:Command ingress-lb-lb-1-keepalived-push",
      "command:remote:Command ingress-lb-lb-1-push",
      "command:remote:Command ingress-lb-lb-2-keepalived-push",
      "command:remote:Command ingress-lb-lb-2-push",
      "ingress-haproxy:haproxy:HaproxyLoadBalancer ingress-lb-lb-1",
      "ingress-haproxy:haproxy:HaproxyLoadBalancer ingress-lb-lb-2",
      "ingress-haproxy:keepalived:KeepalivedLoadBalancer ingress-lb-lb-1-keepalived",
      "ingress-haproxy:keepalived:KeepalivedLoadBalancer ingress-lb-lb-2-keepalived",
    ]);
    const s = pairSettings();
    for (const lb of s.loadBalancers) {
      const push = byName(`ingress-lb-${lb.name}-keepalived-push`);
      const expected = renderKeepalivedConfig(s, lb, { vrrpPassword: VRRP });
      expect(isSecretInput(push.inputs.stdin)).toBe(true);
      const input = { content: expected, digestKey: digestKey(SSH_KEY), owner: `ingress-haproxy:test:ingress-lb-${lb.name}-keepalived-push` };
      expect(unwrapSecret(push.inputs.stdin)).toBe(`digest-key ${digestKey(SSH_KEY)}\n${expected}`);
      expect(push.inputs.create).toBe(keepalivedPushCommand(s, lb, input).command);
      expect(push.inputs.delete).toBe(keepalivedRestoreCommand(s, lb, input).command);
      expect(push.inputs.logging).toBe("stdoutAndStderr");
      expect(push.inputs.addPreviousOutputInEnv).toBe(false);
      expect(unwrapSecret(push.inputs.connection)).toEqual({
        host: lb.address, port: 22, user: "root", privateKey: SSH_KEY, hostKey: lb.hostKey, dialErrorLimit: 3, perDialTimeout: 10,
      });
      // The haproxy.cfg push is unchanged by keepalived (wildcard bind).
      expect(unwrapSecret(byName(`ingress-lb-${lb.name}-push`).inputs.stdin)).toBe(renderHaproxyConfig(s, lb));
    }
    expect(await pulumi.isSecret(out.keepalived)).toBe(false);
    expect(await valueOf(out.keepalived)).toEqual({
      virtualAddresses: ["198.51.100.100", "2001:db8::100"],
      hosts: {
        // keepalived.conf holds the VRRP token: keyed digests only.
        "lb-1": { role: "MASTER", priority: 150, configPath: "/etc/keepalived/keepalived.conf", configSha256: configDigest(renderKeepalivedConfig(s, s.loadBalancers[0], { vrrpPassword: VRRP }), "hmac-sha256", digestKey(SSH_KEY)) },
        "lb-2": { role: "BACKUP", priority: 100, configPath: "/etc/keepalived/keepalived.conf", configSha256: configDigest(renderKeepalivedConfig(s, s.loadBalancers[1], { vrrpPassword: VRRP }), "hmac-sha256", digestKey(SSH_KEY)) },
      },
    });
    expect(JSON.stringify(await valueOf(out.keepalived))).not.toContain(VRRP);
  });

  it("HAProxy bound to the floating address: a nonlocal-bind step per host", async () => {
    const raw = pairRaw();
    raw.haproxy = { bindAddresses: ["198.51.100.100", "2001:db8::100"] };
    stackConfig(raw, { sshPrivateKey: SSH_KEY, vrrpPassword: VRRP });
    await runProgram();
    await settled();
    const s = pairSettings((r) => (r.haproxy = raw.haproxy));
    expect(commands().map((c) => c.name).sort()).toEqual([
      "ingress-lb-lb-1-keepalived-push",
      "ingress-lb-lb-1-nonlocal-bind-sysctl",
      "ingress-lb-lb-1-push",
      "ingress-lb-lb-2-keepalived-push",
      "ingress-lb-lb-2-nonlocal-bind-sysctl",
      "ingress-lb-lb-2-push",
    ]);
    const sysctl = byName("ingress-lb-lb-2-nonlocal-bind-sysctl");
    expect(sysctl.inputs.create).toBe(nonlocalBindCommand(s));
    expect(sysctl.inputs.delete).toBe(nonlocalBindDeleteCommand(s));
    expect(unwrapSecret<{ host: string }>(sysctl.inputs.connection).host).toBe("198.51.100.11");
    expect(byName("ingress-lb-lb-1-nonlocal-bind").type).toBe("ingress-haproxy:keepalived:NonlocalBind");
  });

  it("keepalived without vrrpPassword registers nothing", async () => {
    stackConfig(pairRaw(), { sshPrivateKey: SSH_KEY });
    await expect(runProgram()).rejects.toThrow(
      "  - ingress-haproxy:vrrpPassword: is required with keepalived: the load balancers authenticate their VRRP adverts with it; `pulumi config set --secret vrrpPassword <password>`\n",
    );
    expect(await settled()).toEqual([]);
  });
});
