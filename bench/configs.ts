// What the benchmark runs: the dev stack's settings pointed at the bench hosts, the HAProxy configs
// compared (a hand-written reference and the program's own render, plus the render with one feature
// toggled off at a time) and nginx for the node host. Everything generated goes through the program's
// own parseSettings and renderHaproxyConfig; the only edits to the generated text are named below.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import YAML from "yaml";
import { trustedProxyCidrs } from "../components/controller/manifests";
import { flavourProfile } from "../components/controller/flavours";
import { renderHaproxyConfig } from "../components/haproxy/config";
import { CONFIG_NAMESPACE, parseSettings, type Settings } from "../components/settings";

export const REPO = resolve(__dirname, "..");
export const BENCH_DIR = process.env.IHP_BENCH_DIR || "/run/ihp-bench";

/** The bench hosts (bench/netns.sh builds exactly these). */
export const HOSTS = {
  client: { ns: "ihp-bench-client", address: "203.0.113.20" },
  lb: { ns: "ihp-bench-lb", address: "198.51.100.20" },
  node: { ns: "ihp-bench-node", addresses: ["192.0.2.21", "192.0.2.22", "192.0.2.23"] },
} as const;

/** nginx ports: the program's http NodePort (PROXY protocol) and a plain listener for the direct path. */
export const NGINX_PLAIN_PORT = 30180;

/** Raw stack config (keys without the project prefix) from a committed stack file. */
export function stackRaw(stack: string): Record<string, unknown> {
  const doc = YAML.parse(readFileSync(join(REPO, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc.config)) {
    const key = k.startsWith(`${CONFIG_NAMESPACE}:`) ? k.slice(CONFIG_NAMESPACE.length + 1) : k;
    // `secure:` values are secrets; parseSettings only checks their presence.
    if (v && typeof v === "object" && !Array.isArray(v) && "secure" in (v as object)) continue;
    raw[key] = v;
  }
  return raw;
}

export const STATS_PASSWORD = "bench-only-stats-password";

/** Paths of one HAProxy instance in the bench state dir. */
export function instancePaths(name: string) {
  const dir = join(BENCH_DIR, name);
  return { dir, configPath: join(dir, "haproxy.cfg"), pidFile: join(dir, "haproxy.pid"), masterSocket: join(dir, "master.sock") };
}

export const SYSLOG_SOCKET = join(BENCH_DIR, "syslog.sock");

/**
 * The dev stack (Pulumi.dev.yaml) as the program would run it, on the bench hosts: node addresses
 * of the bench node host, the LB's paths in the bench state dir, frontend ports per instance, and
 * stats ON (the dev stack has them off; the issue asks for "everything on").
 */
export function benchSettings(instance: string, ports: { http: number; https: number; stats: number }, extra: Record<string, unknown> = {}): Settings {
  const raw = stackRaw("dev");
  const nodes = (raw.nodes as { name: string; address: string }[]).map((n, i) => ({ name: n.name, address: HOSTS.node.addresses[i] }));
  const p = instancePaths(instance);
  const lbs = (raw.loadBalancers as Record<string, unknown>[]).map((lb) => ({
    ...lb,
    address: HOSTS.lb.address,
    configPath: p.configPath,
    pidFile: p.pidFile,
    reloadCommand: `kill -USR2 $(cat ${p.pidFile})`,
  }));
  const haproxy = raw.haproxy as Record<string, unknown>;
  return parseSettings(
    {
      ...raw,
      nodes,
      loadBalancers: lbs.slice(0, 1),
      haproxy: { ...haproxy, frontendPorts: { http: ports.http, https: ports.https }, stats: { enabled: true, port: ports.stats }, ...extra },
    },
    { sshPrivateKey: true, statsPassword: true },
  );
}

/**
 * The program's haproxy.cfg for the bench. One edit: `log /dev/log` -> the bench's syslog socket
 * (this machine has no /dev/log; the bench runs a sink that reads every datagram, as a syslog daemon
 * would). The edit keeps the cost (one sendto per log line) and makes the lines countable.
 */
export function generatedConfig(s: Settings): string {
  const text = renderHaproxyConfig(s, s.loadBalancers[0], { statsPassword: STATS_PASSWORD });
  if (!text.includes("log /dev/log local0")) throw new Error("generated config has no `log /dev/log local0` line any more: update bench/configs.ts");
  return text.replace("log /dev/log local0", `log ${SYSLOG_SOCKET} local0`);
}

/** A feature of the generated config that can be switched off for a cost measurement. */
export type Toggle = "nolog" | "nocheck" | "nostats";

export const TOGGLE_DESCRIPTIONS: Record<Toggle, string> = {
  nolog: "generated minus logging (`log global`, `option tcplog`, `option dontlognull`, `option log-health-checks`)",
  nocheck: "generated minus health checks (`check ...` on servers, `option httpchk`, `http-check ...`)",
  nostats: "generated minus the stats listener (`haproxy.stats.enabled: false`)",
};

/** Removes one feature from generated text; throws if the lines it removes are not there any more. */
export function withoutFeature(text: string, toggle: Toggle): string {
  const lines = text.split("\n");
  const drop = (pred: (l: string) => boolean, what: string) => {
    const before = lines.length;
    const kept = lines.filter((l) => !pred(l.trim()));
    if (kept.length === before) throw new Error(`toggle ${toggle}: no ${what} line in the generated config`);
    lines.splice(0, lines.length, ...kept);
  };
  switch (toggle) {
    case "nolog":
      drop((l) => l === "log global", "`log global`");
      drop((l) => l === "option tcplog" || l === "option dontlognull" || l === "option log-health-checks" || l === "option httplog", "log option");
      break;
    case "nocheck": {
      drop((l) => l === "option httpchk" || l.startsWith("http-check "), "httpchk");
      const before = lines.join("\n");
      const after = before.replace(/^(\s*server \S+ \S+ send-proxy(?:-v2)?) check.*$/gm, "$1");
      if (after === before) throw new Error("toggle nocheck: no `server ... check` line");
      return after;
    }
    case "nostats":
      throw new Error("nostats is rendered from settings, not edited");
  }
  return lines.join("\n");
}

/**
 * A candidate for the failover figure, not what the program renders today: the dev stack with
 * `haproxy.timeouts.connectMs` lowered (an existing setting) and a `timeout check` line added (no
 * setting yet), so a blackholed node is detected sooner and redispatch happens before a client gives up.
 */
export const TUNED = { connectMs: 1000, checkMs: 1000 } as const;

export function withCheckTimeout(text: string, ms: number): string {
  const out = text.replace(/^(\s*)(timeout connect \S+)$/m, `$1$2\n$1timeout check ${ms}ms`);
  if (out === text) throw new Error("no `timeout connect` line in the generated config");
  return out;
}

/**
 * A candidate for the logging cost, not what the program renders today: `option dontlog-normal` in
 * defaults, so only connections that end abnormally (errors, timeouts, aborts, redispatches) are logged.
 */
export function withDontlogNormal(text: string): string {
  const out = text.replace(/^(\s*)option dontlognull$/m, "$1option dontlognull\n$1option dontlog-normal");
  if (out === text) throw new Error("no `option dontlognull` line in the generated config");
  return out;
}

/** The reference: a minimal hand-written TCP config with send-proxy to the same three servers, nothing else. */
export function referenceConfig(port: number, s: Settings): string {
  return [
    "# Reference for the benchmark: the smallest TCP config with send-proxy; no checks, no logs, no stats.",
    "global",
    "    pidfile " + instancePaths("ref").pidFile,
    "defaults",
    "    mode tcp",
    "    timeout connect 5s",
    "    timeout client 60s",
    "    timeout server 60s",
    "frontend ref-in",
    `    bind :${port}`,
    "    default_backend ref-nodes",
    "backend ref-nodes",
    ...s.nodes.map((n) => `    server ${n.name} ${n.address}:${s.nodePorts.http} send-proxy`),
    "",
  ].join("\n");
}

/**
 * nginx on the node host: the http NodePort with PROXY protocol and real_ip from the LBs (the
 * program's trusted CIDRs), the health location of the flavour, plus a plain listener (no PROXY
 * protocol) for the direct path. One worker; access log off on every listener alike, so nginx's
 * cost is the same for every variant and the comparison is HAProxy's.
 */
export function nginxConfig(s: Settings): string {
  const d = join(BENCH_DIR, "nginx");
  const health = flavourProfile(s.controller.flavour).nodePortHealthPath;
  return `# Generated by bench/configs.ts
worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${d}/tmp/body;
  proxy_temp_path ${d}/tmp/proxy;
  fastcgi_temp_path ${d}/tmp/fastcgi;
  uwsgi_temp_path ${d}/tmp/uwsgi;
  scgi_temp_path ${d}/tmp/scgi;
  access_log off;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  server {
    listen ${s.nodePorts.http} proxy_protocol default_server;
${trustedProxyCidrs(s).map((c) => `    set_real_ip_from ${c};`).join("\n")}
    real_ip_header proxy_protocol;
    location = ${health} { default_type text/plain; return 200 "healthy\\n"; }
    location / { default_type text/plain; return 200 "ok $remote_addr\\n"; }
  }
  server {
    listen ${NGINX_PLAIN_PORT} default_server;
    location / { default_type text/plain; return 200 "ok $remote_addr\\n"; }
  }
}
`;
}
