// Settings variants shared by the haproxy tests: each has a golden haproxy.cfg in ./golden/.
import { join } from "node:path";
import type { LoadBalancerSettings, Settings } from "../../components/settings";
import { devRaw, settingsOf } from "../fixtures/settings";

export const GOLDEN_DIR = join(__dirname, "golden");
export const GOLDEN_STATS_PASSWORD = "golden-stats-password";

export interface ConfigCase {
  readonly name: string;
  readonly settings: Settings;
  readonly lb: LoadBalancerSettings;
  readonly statsPassword?: string;
}

function variant(name: string, edit: (raw: Record<string, any>) => void, statsPassword?: string): ConfigCase {
  const raw = devRaw();
  edit(raw);
  const settings = settingsOf(raw);
  return { name, settings, lb: settings.loadBalancers[0], statsPassword };
}

export const CONFIG_CASES: readonly ConfigCase[] = [
  variant("dev", () => {}),
  variant("community", (r) => (r.controller = { flavour: "community" })),
  variant("ipv6", (r) => {
    r.nodes = [
      { name: "node-a", address: "2001:db8::11" },
      { name: "node-b", address: "2001:db8::12" },
    ];
    r.loadBalancers[0].address = "2001:db8:100::10";
    r.haproxy = { bindAddresses: ["0.0.0.0", "::"], stats: { enabled: true, address: "::1" } };
  }, GOLDEN_STATS_PASSWORD),
  variant("stats", (r) => (r.haproxy = { stats: { enabled: true, address: "198.51.100.10", port: 9000, user: "ops" } }), GOLDEN_STATS_PASSWORD),
  variant("proxy-v2", (r) => {
    r.haproxy = { proxyProtocol: "v2", balance: "leastconn", log: "all", healthCheck: { interMs: 500, timeoutMs: 300, fall: 2, rise: 5 }, timeouts: { connectMs: 3000, clientMs: 30000, serverMs: 45000 }, maxconn: 5000 };
  }),
  variant("one-node", (r) => {
    r.nodes = [{ name: "worker-0", address: "192.0.2.50" }];
    r.nodePorts = { http: 31080, https: 31443 };
    r.haproxy = { frontendPorts: { http: 8080, https: 8443 }, bindAddresses: ["203.0.113.7"] };
    r.loadBalancers[0].pidFile = "/var/run/haproxy/haproxy.pid";
  }),
];

export function goldenPath(name: string): string {
  return join(GOLDEN_DIR, `${name}.cfg`);
}
