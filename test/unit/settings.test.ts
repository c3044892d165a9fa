import { describe, expect, it } from "vitest";
import { parseSettings } from "../../components/settings";
import { settingsFromStackConfig } from "../../components/stack-config";
import { HOST_KEY_1, devRaw, problemsOf, settingsOf } from "../fixtures/settings";

describe("defaults", () => {
  it("fill in the seed's names and ports and the safe choices", () => {
    const s = settingsOf(devRaw());
    expect(s.namespace).toBe("nginx-ingress");
    expect(s.serviceName).toBe("ingress");
    expect(s.configMapName).toBe("nginx-config");
    expect(s.nodePorts).toEqual({ http: 30111, https: 30112 });
    expect(s.controller.forwardedHeaders).toBe("ignore");
    expect(s.networkPolicy).toEqual({ enabled: true, extraSources: [] });
    expect(s.haproxy.stats).toEqual({ enabled: false, address: "127.0.0.1", port: 8404, user: "stats" });
    expect(s.haproxy.healthCheck).toEqual({ interMs: 2000, timeoutMs: 1000, fall: 3, rise: 2 });
    expect(s.loadBalancers[0]).toEqual({
      name: "lb-1",
      address: "198.51.100.10",
      sshPort: 22,
      user: "root",
      hostKey: HOST_KEY_1,
      configPath: "/etc/haproxy/haproxy.cfg",
      reloadCommand: "systemctl reload haproxy",
      pidFile: "/run/haproxy.pid",
    });
  });
});

describe("haproxy.healthCheck.timeoutMs", () => {
  const hc = (healthCheck: Record<string, number>) => settingsOf({ ...devRaw(), haproxy: { healthCheck } }).haproxy.healthCheck;
  it("unset: 1000 ms, capped at interMs so a short interval stays valid", () => {
    expect(hc({}).timeoutMs).toBe(1000);
    expect(hc({ interMs: 1000 }).timeoutMs).toBe(1000);
    expect(hc({ interMs: 500 }).timeoutMs).toBe(500);
  });
  it("set: kept as given, up to interMs", () => {
    expect(hc({ interMs: 500, timeoutMs: 500 }).timeoutMs).toBe(500);
    expect(hc({ interMs: 2000, timeoutMs: 300 })).toEqual({ interMs: 2000, timeoutMs: 300, fall: 3, rise: 2 });
  });
});

describe("bad input is named by path with its fix, all at once", () => {
  const cases: [string, (raw: Record<string, any>) => void, { path: string; message: string }[]][] = [
    [
      "malformed IP",
      (r) => (r.nodes[1].address = "192.0.2.300"),
      [{ path: "ingress-haproxy:nodes[1].address", message: '"192.0.2.300" is not an IPv4 or IPv6 address; write a bare address such as 192.0.2.11 or 2001:db8::11 (no port, no prefix length)' }],
    ],
    [
      "address with a port",
      (r) => (r.loadBalancers[0].address = "198.51.100.10:22"),
      [{ path: "ingress-haproxy:loadBalancers[0].address", message: '"198.51.100.10:22" is not an IPv4 or IPv6 address; write a bare address such as 192.0.2.11 or 2001:db8::11 (no port, no prefix length)' }],
    ],
    [
      "duplicate node names and IPv6 addresses written differently",
      (r) => (r.nodes = [{ name: "a", address: "2001:db8::1" }, { name: "a", address: "2001:DB8:0::1" }]),
      [
        { path: "ingress-haproxy:nodes[1].name", message: '"a" is already the name of nodes[0]; every node needs its own name' },
        { path: "ingress-haproxy:nodes[1].address", message: "2001:DB8:0::1 is the same address as nodes[0] (2001:db8::1); list each node once" },
      ],
    ],
    [
      "NodePort outside the range and equal ports",
      (r) => (r.nodePorts = { http: 29999, https: 29999 }),
      [
        { path: "ingress-haproxy:nodePorts.http", message: "29999 is below the NodePort range; choose a port between 30000 and 32767" },
        { path: "ingress-haproxy:nodePorts.https", message: "29999 is below the NodePort range; choose a port between 30000 and 32767" },
        { path: "ingress-haproxy:nodePorts.https", message: "29999 equals nodePorts.http; give http and https different NodePorts" },
      ],
    ],
    [
      "NodePort above the range",
      (r) => (r.nodePorts = { https: 32768 }),
      [{ path: "ingress-haproxy:nodePorts.https", message: "32768 is above the NodePort range; choose a port between 30000 and 32767" }],
    ],
    [
      "empty lists",
      (r) => ((r.nodes = []), (r.loadBalancers = [])),
      [
        { path: "ingress-haproxy:nodes", message: "must list at least one node ({name, address}); HAProxy needs a backend" },
        { path: "ingress-haproxy:loadBalancers", message: "must list at least one load-balancer host ({name, address, hostKey})" },
      ],
    ],
    [
      "LB without a pinned host key",
      (r) => delete r.loadBalancers[0].hostKey,
      [{ path: "ingress-haproxy:loadBalancers[0].hostKey", message: "is required: pin the host's SSH key, e.g. the output of `ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-`" }],
    ],
    [
      "host key that is not a key",
      (r) => (r.loadBalancers[0].hostKey = "198.51.100.10 ssh-ed25519 AAAA"),
      [{ path: "ingress-haproxy:loadBalancers[0].hostKey", message: "\"198.51.100.10 ssh-ed25519 AAAA\" is not an SSH public host key; use the 'TYPE BASE64' form, e.g. from `ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-`" }],
    ],
    [
      "RSA host key (the command provider offers ssh-rsa only, which OpenSSH 8.8+ refuses)",
      (r) => (r.loadBalancers[0].hostKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7"),
      [{
        path: "ingress-haproxy:loadBalancers[0].hostKey",
        message: "\"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7\" is an RSA host key, which @pulumi/command cannot verify against OpenSSH 8.8 or later; pin the host's ed25519 (or ECDSA) key instead, e.g. `ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-`",
      }],
    ],
    [
      "LB that is also a node",
      (r) => (r.loadBalancers[0].address = "192.0.2.12"),
      [{ path: "ingress-haproxy:loadBalancers[0].address", message: '192.0.2.12 is also a node address; a load balancer must be a separate host' }],
    ],
    [
      "unknown flavour and CNI, missing CNI",
      (r) => ((r.controller.flavour = "nginxinc"), delete r.cni),
      [
        { path: "ingress-haproxy:cni", message: "is required: one of weave, calico, cilium, flannel, other (only weave gets the NO_MASQ_LOCAL patch)" },
        { path: "ingress-haproxy:controller.flavour", message: '"nginxinc" must be one of f5, community (f5 = F5 NGINX Ingress Controller, maintained; community = kubernetes/ingress-nginx, retired March 2026)' },
      ],
    ],
    [
      "misspelt settings at any depth",
      (r) => ((r.nodePortz = 1), (r.controller.flavor = "f5")),
      [
        { path: "ingress-haproxy:controller.flavor", message: 'is not a setting; check the spelling against README "Configuration"' },
        { path: "ingress-haproxy:nodePortz", message: 'is not a setting; check the spelling against README "Configuration"' },
      ],
    ],
    [
      "extraConfig overriding a managed key",
      (r) => (r.controller.extraConfig = { "real-ip-header": "X-Forwarded-For", "client-max-body-size": "5m" }),
      [{ path: "ingress-haproxy:controller.extraConfig.real-ip-header", message: '"real-ip-header" is managed by the program (PROXY protocol and trusted addresses); remove it, or use controller.forwardedHeaders for forwarded headers' }],
    ],
    [
      "grace period shorter than the preStop wait",
      (r) => (r.controller.preStopSeconds = 90),
      [{ path: "ingress-haproxy:controller.terminationGracePeriodSeconds", message: "60 must be greater than controller.preStopSeconds (90) or pods are killed mid-drain" }],
    ],
    [
      "health-check timeout longer than the interval",
      (r) => (r.haproxy = { healthCheck: { interMs: 500, timeoutMs: 800 } }),
      [{ path: "ingress-haproxy:haproxy.healthCheck.timeoutMs", message: "800 is longer than haproxy.healthCheck.interMs (500): a node that accepts the check but never answers would be found out later than with no timeout at all; set timeoutMs to 500 or less, or raise interMs" }],
    ],
    [
      "health-check timeout out of range",
      (r) => (r.haproxy = { healthCheck: { timeoutMs: 50 } }),
      [{ path: "ingress-haproxy:haproxy.healthCheck.timeoutMs", message: "50 Number must be greater than or equal to 100" }],
    ],
  ];
  it.each(cases)("%s", (_name, mutate, expected) => {
    const raw = devRaw();
    mutate(raw);
    expect(problemsOf(raw)).toEqual(expected);
  });

  it("secrets: missing key, stats without password, plain-text secret", () => {
    const raw = { ...devRaw(), haproxy: { stats: { enabled: true } } };
    expect(problemsOf(raw, { sshPrivateKey: false })).toEqual([
      { path: "ingress-haproxy:sshPrivateKey", message: "is required: the SSH private key for the load-balancer hosts; set it with `cat KEYFILE | pulumi config set --secret sshPrivateKey`" },
      { path: "ingress-haproxy:statsPassword", message: "is required when haproxy.stats.enabled is true: `pulumi config set --secret statsPassword <password>`" },
    ]);
    expect(problemsOf({ ...devRaw(), sshPrivateKey: "-----BEGIN" }, { sshPrivateKey: false })).toEqual([
      { path: "ingress-haproxy:sshPrivateKey", message: "must be set as a secret: `pulumi config set --secret sshPrivateKey ...`" },
    ]);
  });

  it("the error message lists every problem and says nothing was created", () => {
    const raw = devRaw();
    raw.nodes[0].address = "x";
    raw.nodePorts = { http: 1 };
    expect(() => parseSettings(raw, { sshPrivateKey: true })).toThrow(
      "Invalid stack configuration (2 problems); nothing was created or pushed:\n" +
        "  - ingress-haproxy:nodePorts.http: 1 is below the NodePort range; choose a port between 30000 and 32767\n" +
        '  - ingress-haproxy:nodes[0].address: "x" is not an IPv4 or IPv6 address; write a bare address such as 192.0.2.11 or 2001:db8::11 (no port, no prefix length)\n',
    );
  });
});

describe("stack config as Pulumi passes it", () => {
  it("decodes JSON objects, keeps scalars and never reads secret values", () => {
    const all = {
      "ingress-haproxy:cni": "calico",
      "ingress-haproxy:namespace": "edge",
      "ingress-haproxy:nodes": JSON.stringify(devRaw().nodes),
      "ingress-haproxy:loadBalancers": JSON.stringify(devRaw().loadBalancers),
      "ingress-haproxy:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----",
      "kubernetes:context": "other-project-key",
    };
    const s = settingsFromStackConfig(all, (k) => k === "ingress-haproxy:sshPrivateKey");
    expect(s.cni).toBe("calico");
    expect(s.namespace).toBe("edge");
    expect(s.nodes.map((n) => n.address)).toEqual(["192.0.2.11", "192.0.2.12", "192.0.2.13"]);
    expect(JSON.stringify(s)).not.toContain("BEGIN");
    expect(() => settingsFromStackConfig(all, () => false)).toThrow("ingress-haproxy:sshPrivateKey: must be set as a secret");
  });
});
