// Settings variants for the keepalived tests: each LB of each variant has a golden keepalived.conf in
// ./golden/<variant>-<lb>.conf, and every golden file passes real `keepalived -t`.
import { join } from "node:path";
import { parseSettings, type LoadBalancerSettings, type Settings } from "../../components/settings";
import { HOST_KEY_1, HOST_KEY_2, devRaw } from "../fixtures/settings";

export const GOLDEN_DIR = join(__dirname, "golden");
export const GOLDEN_VRRP_PASSWORD = "golden-vrrp-password";

/** The dev stack as a pair: lb-1 (150) and lb-2 (100), one IPv4 and one IPv6 floating address. */
export function pairRaw(): Record<string, any> {
  const raw = devRaw();
  raw.loadBalancers[0].priority = 150;
  raw.loadBalancers.push({ name: "lb-2", address: "198.51.100.11", hostKey: HOST_KEY_2, priority: 100 });
  raw.keepalived = { virtualAddresses: ["198.51.100.100", "2001:db8::100"] };
  return raw;
}

export function pairSettings(edit: (raw: Record<string, any>) => void = () => {}): Settings {
  const raw = pairRaw();
  edit(raw);
  return parseWithVrrp(raw);
}

/** Parses with the secrets a keepalived stack has: vrrpPassword when the LBs are IPv4 (VRRPv2). */
export function parseWithVrrp(raw: Record<string, any>): Settings {
  const ipv6 = raw.loadBalancers.some((l: { address: string }) => l.address.includes(":"));
  return parseSettings(raw, { sshPrivateKey: true, statsPassword: true, vrrpPassword: !ipv6 });
}

export interface KeepalivedCase {
  readonly name: string;
  readonly settings: Settings;
  readonly lb: LoadBalancerSettings;
  readonly vrrpPassword?: string;
}

function variant(name: string, edit: (raw: Record<string, any>) => void): KeepalivedCase[] {
  const settings = pairSettings(edit);
  const ipv6 = settings.loadBalancers[0].address.includes(":");
  return settings.loadBalancers.map((lb) => ({ name: `${name}-${lb.name}`, settings, lb, vrrpPassword: ipv6 ? undefined : GOLDEN_VRRP_PASSWORD }));
}

export const KEEPALIVED_CASES: readonly KeepalivedCase[] = [
  // Defaults: unicast, nopreempt, HAProxy on the wildcard (checked through loopback).
  ...variant("pair", () => {}),
  // HAProxy binds the floating address (nonlocal bind), preempt, multicast, per-host interface.
  ...variant("vip-bind", (r) => {
    r.haproxy = { bindAddresses: ["198.51.100.100"], frontendPorts: { http: 8080, https: 8443 } };
    r.keepalived = {
      virtualAddresses: ["198.51.100.100"],
      preempt: true,
      unicast: false,
      virtualRouterId: 7,
      advertIntervalSeconds: 2,
      healthCheck: { intervalSeconds: 2, fall: 3, rise: 1 },
    };
    r.loadBalancers[1].keepalived = { interface: "eth1" };
  }),
  // IPv6 load balancers: VRRPv3 (no authentication), the IPv4 address rides along as excluded.
  ...variant("ipv6", (r) => {
    r.loadBalancers[0].address = "2001:db8:100::10";
    r.loadBalancers[1].address = "2001:db8:100::11";
    r.haproxy = { bindAddresses: ["::"] };
    r.keepalived = { virtualAddresses: ["2001:db8:100::100", "198.51.100.100"] };
  }),
  // Three hosts: each lists the other two as unicast peers.
  ...variant("three", (r) => {
    r.loadBalancers.push({ name: "lb-3", address: "198.51.100.12", hostKey: HOST_KEY_1, priority: 50 });
    r.keepalived = { virtualAddresses: ["198.51.100.100"] };
  }),
];

export const goldenPath = (name: string): string => join(GOLDEN_DIR, `${name}.conf`);
