// keepalived settings: defaults, and every invalid combination as a named error (path + fix) in the
// same single SettingsError as every other problem.
import { describe, expect, it } from "vitest";
import { configMapData, networkPolicyManifest, trustedProxyCidrs } from "../../components/controller/manifests";
import { parseSettings } from "../../components/settings";
import { HOST_KEY_1, devRaw, problemsOf as problemsWith } from "../fixtures/settings";
import { pairRaw, pairSettings } from "./cases";

const ALL_SECRETS = { sshPrivateKey: true, vrrpPassword: true };

const problemsOf = (raw: Record<string, any>, secrets: Record<string, boolean> = ALL_SECRETS) => problemsWith(raw, secrets);

describe("keepalived defaults", () => {
  it("unicast, nopreempt, eth0, router id 51, 1 s adverts, systemd reload-or-restart", () => {
    const s = pairSettings();
    expect(s.keepalived).toEqual({
      virtualAddresses: ["198.51.100.100", "2001:db8::100"],
      interface: "eth0",
      virtualRouterId: 51,
      unicast: true,
      preempt: false,
      advertIntervalSeconds: 1,
      healthCheck: { intervalSeconds: 1, fall: 2, rise: 2 },
      configPath: "/etc/keepalived/keepalived.conf",
      reloadCommand: "systemctl reload-or-restart keepalived",
      pidFile: "/run/keepalived.pid",
      sysctlPath: "/etc/sysctl.d/60-ingress-haproxy-nonlocal-bind.conf",
    });
    expect(s.loadBalancers.map((lb) => [lb.name, lb.priority, lb.keepalived])).toEqual([
      ["lb-1", 150, undefined],
      ["lb-2", 100, undefined],
    ]);
  });

  it("without keepalived there is no keepalived section and vrrpPassword is not needed", () => {
    expect(parseSettings(devRaw(), { sshPrivateKey: true }).keepalived).toBeUndefined();
  });
});

describe("invalid keepalived combinations are named by path with their fix", () => {
  const cases: [string, (raw: Record<string, any>) => void, { path: string; message: string }[]][] = [
    [
      "one load balancer with a floating address",
      (r) => (r.loadBalancers = [r.loadBalancers[0]]),
      [{ path: "ingress-haproxy:keepalived", message: "needs at least two loadBalancers: with one host the floating address has nowhere to move; remove `keepalived` and let clients use 198.51.100.10" }],
    ],
    [
      "floating address equal to a load balancer's and to a node's address",
      (r) => (r.keepalived.virtualAddresses = ["198.51.100.11", "192.0.2.12"]),
      [
        { path: "ingress-haproxy:keepalived.virtualAddresses[0]", message: "198.51.100.11 is the address of loadBalancers[1] (lb-2); a floating address must be an otherwise unused address on the load balancers' network" },
        { path: "ingress-haproxy:keepalived.virtualAddresses[1]", message: "192.0.2.12 is the address of nodes[1] (node-2); a floating address must be an otherwise unused address on the load balancers' network" },
      ],
    ],
    [
      "duplicate priorities",
      (r) => (r.loadBalancers[1].priority = 150),
      [{ path: "ingress-haproxy:loadBalancers[1].priority", message: "150 is also the priority of loadBalancers[0] (lb-1); give each load balancer a different priority so exactly one starts as MASTER" }],
    ],
    [
      "missing priority",
      (r) => delete r.loadBalancers[0].priority,
      [{ path: "ingress-haproxy:loadBalancers[0].priority", message: "is required with keepalived: give each load balancer a different priority 1-254; the highest starts as MASTER (e.g. 150 and 100)" }],
    ],
    [
      "the same floating address twice (IPv6 written differently) and a wildcard",
      (r) => (r.keepalived.virtualAddresses = ["198.51.100.100", "2001:db8::100", "2001:DB8:0::100", "0.0.0.0"]),
      [
        { path: "ingress-haproxy:keepalived.virtualAddresses[3]", message: "0.0.0.0 is a wildcard; a floating address is one concrete address, e.g. 198.51.100.100" },
        { path: "ingress-haproxy:keepalived.virtualAddresses[2]", message: "2001:DB8:0::100 is listed twice (keepalived.virtualAddresses[1]); list each address once" },
      ],
    ],
    [
      "no floating address of the load balancers' family",
      (r) => (r.keepalived.virtualAddresses = ["2001:db8::100"]),
      [{ path: "ingress-haproxy:keepalived.virtualAddresses", message: "has no IPv4 address; VRRP between IPv4 load balancers needs at least one IPv4 floating address (addresses of the other family move with it)" }],
    ],
    [
      "load balancers of two address families",
      (r) => (r.loadBalancers[1].address = "2001:db8:100::11"),
      [{ path: "ingress-haproxy:loadBalancers[1].address", message: "2001:db8:100::11 is IPv6 but loadBalancers[0] is IPv4; keepalived's VRRP peers must share one address family" }],
    ],
    [
      "HAProxy bound to one host's own address",
      (r) => (r.haproxy = { bindAddresses: ["198.51.100.100", "198.51.100.10"] }),
      [{ path: "ingress-haproxy:haproxy.bindAddresses[1]", message: "198.51.100.10 is neither a wildcard (0.0.0.0, ::) nor one of keepalived.virtualAddresses; with keepalived every load balancer binds the same addresses, so bind the wildcard or the floating addresses" }],
    ],
    [
      "empty list, bad interface name, router id out of range, unknown key",
      (r) => (r.keepalived = { virtualAddresses: [], interface: "eth0 ", virtualRouterId: 256, nopreempt: true }),
      [
        { path: "ingress-haproxy:keepalived.virtualAddresses", message: "must list at least one floating address, e.g. [198.51.100.100]" },
        { path: "ingress-haproxy:keepalived.interface", message: "\"eth0 \" is not a network interface name: 1-15 letters, digits, '.', '_' or '-', e.g. eth0 or ens3" },
        { path: "ingress-haproxy:keepalived.virtualRouterId", message: "256 Number must be less than or equal to 255" },
        { path: "ingress-haproxy:keepalived.nopreempt", message: 'is not a setting; check the spelling against README "Configuration"' },
      ],
    ],
    [
      "priority and per-host keepalived settings without keepalived",
      (r) => {
        delete r.keepalived;
        r.loadBalancers[1].keepalived = { interface: "eth1" };
      },
      [
        { path: "ingress-haproxy:loadBalancers[0].priority", message: "is only used with `keepalived`; remove it, or configure keepalived.virtualAddresses" },
        { path: "ingress-haproxy:loadBalancers[1].priority", message: "is only used with `keepalived`; remove it, or configure keepalived.virtualAddresses" },
        { path: "ingress-haproxy:loadBalancers[1].keepalived", message: "is only used with `keepalived`; remove it, or configure keepalived.virtualAddresses" },
      ],
    ],
  ];
  it.each(cases)("%s", (_name, mutate, expected) => {
    const raw = pairRaw();
    mutate(raw);
    expect(problemsOf(raw)).toEqual(expected);
  });

  it("missing vrrpPassword is reported together with the other problems, in one SettingsError", () => {
    const raw = pairRaw();
    raw.loadBalancers[1].priority = 150;
    raw.nodePorts = { http: 1 };
    expect(problemsOf(raw, { sshPrivateKey: true })).toEqual([
      { path: "ingress-haproxy:nodePorts.http", message: "1 is below the NodePort range; choose a port between 30000 and 32767" },
      { path: "ingress-haproxy:loadBalancers[1].priority", message: "150 is also the priority of loadBalancers[0] (lb-1); give each load balancer a different priority so exactly one starts as MASTER" },
      { path: "ingress-haproxy:vrrpPassword", message: "is required with keepalived: the load balancers authenticate their VRRP adverts with it; `pulumi config set --secret vrrpPassword <password>`" },
    ]);
    raw.nodePorts = {};
    expect(() => parseSettings(raw, { sshPrivateKey: true })).toThrow(
      "Invalid stack configuration (2 problems); nothing was created or pushed:\n" +
        "  - ingress-haproxy:loadBalancers[1].priority: 150 is also the priority of loadBalancers[0] (lb-1); give each load balancer a different priority so exactly one starts as MASTER\n" +
        "  - ingress-haproxy:vrrpPassword: is required with keepalived: the load balancers authenticate their VRRP adverts with it; `pulumi config set --secret vrrpPassword <password>`\n",
    );
  });

  it("vrrpPassword in plain text is refused; with IPv6 load balancers it is refused as unused (VRRPv3)", () => {
    expect(problemsOf({ ...pairRaw(), vrrpPassword: "plain" }, { sshPrivateKey: true })).toEqual([
      { path: "ingress-haproxy:vrrpPassword", message: "must be set as a secret: `pulumi config set --secret vrrpPassword ...`" },
    ]);
    const v6 = pairRaw();
    v6.loadBalancers[0].address = "2001:db8:100::10";
    v6.loadBalancers[1].address = "2001:db8:100::11";
    v6.keepalived.virtualAddresses = ["2001:db8:100::100"];
    expect(parseSettings(v6, { sshPrivateKey: true }).keepalived?.virtualAddresses).toEqual(["2001:db8:100::100"]);
    expect(problemsOf(v6, ALL_SECRETS)).toEqual([
      { path: "ingress-haproxy:vrrpPassword", message: "is not used: VRRP between IPv6 load balancers is version 3, which has no authentication; remove it with `pulumi config rm vrrpPassword`" },
    ]);
  });
});

describe("proxy trust lists with keepalived on", () => {
  it("hold every LB host's own address (the nodes see HAProxy's connections from it), never the floating address", () => {
    const raw = pairRaw();
    raw.loadBalancers.push({ name: "lb-3", address: "198.51.100.12", hostKey: HOST_KEY_1, priority: 50 });
    for (const flavour of ["f5", "community"] as const) {
      raw.controller = { flavour };
      const s = parseSettings(raw, ALL_SECRETS);
      expect(trustedProxyCidrs(s)).toEqual(["198.51.100.10/32", "198.51.100.11/32", "198.51.100.12/32"]);
      const data = configMapData(s);
      const key = flavour === "f5" ? "set-real-ip-from" : "proxy-real-ip-cidr";
      expect(data[key]).toBe("198.51.100.10/32,198.51.100.11/32,198.51.100.12/32");
      expect((networkPolicyManifest(s) as unknown as { spec: { ingress: { from: unknown[] }[] } }).spec.ingress[0].from).toEqual([
        { ipBlock: { cidr: "198.51.100.10/32" } },
        { ipBlock: { cidr: "198.51.100.11/32" } },
        { ipBlock: { cidr: "198.51.100.12/32" } },
      ]);
    }
  });
});
