// Helpers for the netns end-to-end tier: bring the hosts up/down, run commands inside a host, push a
// config with the program's own push script over real SSH, read HAProxy's state through the master
// CLI, generate bounded load from a client namespace and read the nodes' access logs.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createConnection } from "node:net";
import { join, resolve } from "node:path";
import { digestKey } from "../../components/haproxy/digest";
import { pushCommand } from "../../components/haproxy/push-script";
import { parseSettings, type LoadBalancerSettings, type Settings } from "../../components/settings";
import { readContract, type HostsContract, type LoadBalancerEntry } from "./contract";
import type { AccessLogEntry } from "./nginx-config";
import { namespaceOf } from "./topology";

export const REPO = resolve(__dirname, "../..");
export const HOSTS_SH = join(REPO, "scripts/netns/hosts.sh");
export const STATE_DIR = process.env.IHP_NETNS_DIR || "/run/ihp-netns";

const REQUIRED_TOOLS = ["ip", "iptables", "haproxy", "nginx", "sshd", "ssh", "ssh-keygen", "curl", "openssl", "flock"];

/** Throws (never skips) when the tier cannot run here. */
export function preflight(): void {
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    throw new Error(`the netns e2e tier must run as root (network namespaces, iptables, sshd); uid is ${process.getuid()}. Run it with sudo or as root in CI.`);
  if (process.platform !== "linux") throw new Error(`the netns e2e tier needs Linux network namespaces; platform is ${process.platform}`);
}

/** After hosts.sh up (which apt-get installs what is missing): every tool must be there. */
export function assertTools(): void {
  const missing = REQUIRED_TOOLS.filter((t) => spawnSync("bash", ["-c", `PATH=$PATH:/usr/sbin:/sbin command -v ${t}`]).status !== 0);
  if (missing.length) throw new Error(`the netns e2e tier needs these tools, missing: ${missing.join(", ")} (scripts/netns/hosts.sh deps installs them with apt-get)`);
}

export function hostsUp(): HostsContract {
  const r = spawnSync(HOSTS_SH, ["up"], { encoding: "utf8", env: { ...process.env, IHP_NETNS_DIR: STATE_DIR }, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`scripts/netns/hosts.sh up failed (exit ${r.status}):\n${r.stderr}\n${r.stdout}`);
  return readContract(STATE_DIR);
}

export function hostsDown(): void {
  const r = spawnSync(HOSTS_SH, ["down"], { encoding: "utf8", env: { ...process.env, IHP_NETNS_DIR: STATE_DIR }, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`scripts/netns/hosts.sh down failed (exit ${r.status}):\n${r.stderr}`);
}

export function hostsCtl(...args: string[]): void {
  const r = spawnSync(HOSTS_SH, args, { encoding: "utf8", env: { ...process.env, IHP_NETNS_DIR: STATE_DIR } });
  if (r.status !== 0) throw new Error(`hosts.sh ${args.join(" ")} failed: ${r.stderr}`);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  startMs: number;
  endMs: number;
}

export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const startMs = Date.now();
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, startMs, endMs: Date.now() });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs a command on a netns host. */
export const onHost = (host: string, cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number }) =>
  run("ip", ["netns", "exec", namespaceOf(host), cmd, ...args], opts);

export function stackSettings(c: HostsContract, overrides: { haproxy?: Record<string, unknown>; push?: Record<string, unknown> } = {}): Settings {
  const raw = c.stackConfig as Record<string, any>;
  return parseSettings(
    { ...raw, haproxy: { ...raw.haproxy, ...overrides.haproxy }, push: { ...raw.push, ...overrides.push } },
    { sshPrivateKey: true },
  );
}

export const lbSettings = (s: Settings, name: string): LoadBalancerSettings => {
  const lb = s.loadBalancers.find((l) => l.name === name);
  if (!lb) throw new Error(`no load balancer ${name} in settings`);
  return lb;
};

export interface PushOptions {
  /** known_hosts file; defaults to the contract's pinned one. */
  knownHostsPath?: string;
  connectTimeoutSeconds?: number;
  /** The remote command instead of the program's pushCommand (e.g. a push script without the bind check); stdin stays the program's. */
  command?: string;
}

/**
 * Pushes `config` to load balancer `lbName` exactly as the program does: the program's pushCommand
 * (validate, flock, backup, atomic swap, reload, verify, roll back) over real SSH with the host key
 * pinned (StrictHostKeyChecking=yes against a generated known_hosts).
 */
/** The digest key the netns pushes use (the program derives it from the stack's SSH private key). */
export const NETNS_DIGEST_KEY = digestKey("netns tier stand-in for the stack's SSH private key");

export function sshPush(c: HostsContract, s: Settings, lbName: string, config: string, opts: PushOptions = {}): Promise<RunResult> {
  const lb = lbSettings(s, lbName);
  const push = pushCommand(s, lb, { content: config, digestKey: NETNS_DIGEST_KEY, owner: `ingress-lb-${lbName}-push` });
  return run(
    "ssh",
    [
      "-i", c.ssh.privateKeyPath,
      "-o", "IdentitiesOnly=yes",
      "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=yes",
      "-o", `UserKnownHostsFile=${opts.knownHostsPath ?? c.ssh.knownHostsPath}`,
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "UpdateHostKeys=no",
      "-o", `ConnectTimeout=${opts.connectTimeoutSeconds ?? 5}`,
      "-o", "LogLevel=ERROR",
      "-p", String(lb.sshPort),
      `${lb.user}@${lb.address}`,
      opts.command ?? push.command,
    ],
    { input: push.stdin, timeoutMs: 120_000 },
  );
}

export const sha256 = (text: string | Buffer): string => createHash("sha256").update(text).digest("hex");
export const fileSha = (path: string): string => sha256(readFileSync(path));

export function lbEntry(c: HostsContract, name: string): LoadBalancerEntry {
  const lb = c.loadBalancers.find((l) => l.name === name);
  if (!lb) throw new Error(`no load balancer ${name} in hosts.json`);
  return lb;
}

/** One command on the HAProxy master CLI (`-S` socket). `@1 <cmd>` goes to the current worker. */
export function masterCli(lb: LoadBalancerEntry, command: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let out = "";
    const s = createConnection(lb.masterSocket);
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`master CLI of ${lb.name} timed out on "${command}"`)); }, timeoutMs);
    s.on("connect", () => s.end(`${command}\n`));
    s.on("data", (d) => (out += d));
    s.on("error", (e) => { clearTimeout(timer); reject(e); });
    s.on("close", () => { clearTimeout(timer); resolvePromise(out); });
  });
}

/** `backend/server` -> status ("UP", "DOWN", "UP 1/2", ...) from the current worker. */
export async function serverStates(lb: LoadBalancerEntry): Promise<Record<string, string>> {
  const csv = await masterCli(lb, "@1 show stat");
  const lines = csv.split("\n").filter(Boolean);
  const header = lines[0].replace(/^# /, "").split(",");
  const [px, sv, st] = ["pxname", "svname", "status"].map((k) => header.indexOf(k));
  const out: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const f = l.split(",");
    if (f[sv] !== "FRONTEND" && f[sv] !== "BACKEND") out[`${f[px]}/${f[sv]}`] = f[st];
  }
  return out;
}

export interface ProcInfo {
  masterPid: number;
  reloads: number;
  failedReloads: number;
  workers: number[];
}

/** `show proc` on the master: master pid, reload counters and current worker pids. */
export async function procInfo(lb: LoadBalancerEntry): Promise<ProcInfo> {
  const text = await masterCli(lb, "show proc");
  const master = /^(\d+)\s+master\s+(\d+)(?: \[failed: (\d+)\])?/m.exec(text);
  if (!master) throw new Error(`unexpected show proc output from ${lb.name}:\n${text}`);
  const workers = [...text.matchAll(/^(\d+)\s+worker\s/gm)].map((m) => Number(m[1]));
  return { masterPid: Number(master[1]), reloads: Number(master[2]), failedReloads: Number(master[3] ?? 0), workers };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until every server of every backend on `lb` reports exactly `want` ("UP"). */
export function waitAllServers(lb: LoadBalancerEntry, want: string, timeoutMs = 10_000): Promise<Record<string, string>> {
  return waitFor(`all servers ${want} on ${lb.name}`, async () => {
    const st = await serverStates(lb);
    const vals = Object.values(st);
    return vals.length > 0 && vals.every((v) => v === want) ? st : undefined;
  }, timeoutMs);
}

export interface LoadRequest {
  i: number;
  startMs: number;
  ms: number;
  status: number;
  node: string;
  remote: string;
  error: string;
}
export interface LoadResult {
  runId: string;
  sent: number;
  ok: number;
  failed: number;
  wallMs: number;
  results: LoadRequest[];
}

export interface LoadParams {
  target: string;
  scheme?: "http" | "https";
  count: number;
  rateHz?: number;
  concurrency?: number;
  runId: string;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/** Bounded load (exactly `count` requests, new connection each) from a client namespace to an LB address. */
export async function load(client: string, p: LoadParams): Promise<LoadResult> {
  const r = await onHost(client, process.execPath, [join(__dirname, "loadgen.mjs"), JSON.stringify(p)], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`loadgen on ${client} failed (exit ${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as LoadResult;
}

export async function rawSend(client: string, host: string, port: number, payload: string, timeoutMs = 1500): Promise<{ connected: boolean; response: string; error: string }> {
  const r = await onHost(client, process.execPath, [join(__dirname, "rawsend.mjs"), JSON.stringify({ host, port, payload, timeoutMs })]);
  if (r.code !== 0) throw new Error(`rawsend on ${client} failed (exit ${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Every access-log entry of every node (health checks go to a separate log). */
export function accessLog(c: HostsContract): AccessLogEntry[] {
  return c.nodes.flatMap((n) =>
    existsSync(n.accessLog) ? readFileSync(n.accessLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as AccessLogEntry) : [],
  );
}

export const runEntries = (c: HostsContract, runId: string): AccessLogEntry[] =>
  accessLog(c).filter((e) => e.request_uri.startsWith(`/load/${runId}/`));

/** A hard stop of an LB's HAProxy: from the signal until its last process was gone. */
export interface HardStop {
  fromMs: number;
  toMs: number;
}

/** The request was open while the stop happened: started before the process was gone, ended after the signal. */
export const inFlightAt = (x: LoadRequest, stop: HardStop): boolean => x.startMs <= stop.toMs && x.startMs + x.ms >= stop.fromMs;

/**
 * "Nothing lost": every request that got a 200 is in exactly one node's access log, with the client's
 * own address; nothing else of the run is logged. One exception, judged by time: a request in flight
 * while HAProxy was hard-stopped (`hardStop`) may have been answered by the node and then cut on its
 * way back (the client sees an error, the node logged it); those are counted in `cutAtStop`.
 */
export function accountFor(
  c: HostsContract, r: LoadResult, clientAddress: string, opts: { hardStop?: HardStop } = {},
): { logged: number; cutAtStop: number; problems: string[] } {
  const entries = runEntries(c, r.runId);
  const problems: string[] = [];
  const okIds = new Set(r.results.filter((x) => x.status === 200 && !x.error).map((x) => x.i));
  const seen = new Map<number, number>();
  let cutAtStop = 0;
  for (const e of entries) {
    const i = Number(e.request_uri.split("/")[3]);
    seen.set(i, (seen.get(i) ?? 0) + 1);
    if (e.remote_addr !== clientAddress) problems.push(`request ${i} logged remote_addr ${e.remote_addr}, expected ${clientAddress}`);
  }
  for (const [i, n] of seen) if (n !== 1) problems.push(`request ${i} logged ${n} times`);
  for (const i of okIds) if (!seen.has(i)) problems.push(`request ${i} got 200 but no node logged it`);
  for (const i of seen.keys()) {
    if (okIds.has(i)) continue;
    const x = r.results.find((y) => y.i === i);
    if (x && x.error && opts.hardStop && inFlightAt(x, opts.hardStop)) cutAtStop++;
    else problems.push(`request ${i} logged by a node but the client saw ${JSON.stringify(x)}${opts.hardStop ? ` (stop ${JSON.stringify(opts.hardStop)})` : ""}`);
  }
  for (const x of r.results) if (x.status === 200 && x.remote !== clientAddress) problems.push(`request ${x.i} answered X-Remote-Addr ${x.remote}`);
  return { logged: entries.length, cutAtStop, problems };
}

export function mtimeMs(path: string): number {
  return statSync(path).mtimeMs;
}

/** Figures the tier measured, printed at the end (and written to $IHP_NETNS_DIR/../ihp-netns-figures.json). */
export const figures: Record<string, unknown> = {};
