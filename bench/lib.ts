// Small helpers for the benchmark: commands in the bench namespaces, wrk runs, process CPU counters,
// medians. Nothing here decides pass/fail: the benchmark only reports.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HOSTS, REPO } from "./configs";

export type Host = keyof typeof HOSTS;

export function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; allowFail?: boolean } = {}) {
  const r = spawnSync(cmd, args, { input: opts.input, encoding: "utf8", timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 });
  if (!opts.allowFail && r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ").slice(0, 200)} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ""}):\n${(r.stderr || "").slice(-2000)}${(r.stdout || "").slice(-1000)}`);
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

export function inNs(host: Host, cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; allowFail?: boolean } = {}) {
  return sh("ip", ["netns", "exec", HOSTS[host].ns, cmd, ...args], opts);
}

export const netnsScript = join(REPO, "bench/netns.sh");

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function minMax(xs: number[]): [number, number] {
  const v = xs.filter((x) => Number.isFinite(x));
  return [Math.min(...v), Math.max(...v)];
}

// ---- process CPU (utime + stime, in clock ticks) ----

const CLK_TCK = Number(sh("getconf", ["CLK_TCK"]).stdout.trim()) || 100;

function statFields(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** Children of `pid` (live or not yet reaped). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (f && Number(f[1]) === pid) out.push(Number(d));
  }
  return out;
}

/** CPU seconds used so far by `pid` and its children (all threads; field 14+15 of /proc/PID/stat). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / CLK_TCK;
}

export function readPid(file: string): number {
  return Number(readFileSync(file, "utf8").trim().split(/\s+/)[0]);
}

/** A process and every child it has now (HAProxy master + workers, nginx master + workers). */
export function familyOf(pid: number): number[] {
  return [pid, ...childrenOf(pid)];
}

// ---- wrk ----

export interface WrkResult {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  lat_mean_us: number;
  lat_p50_us: number;
  lat_p99_us: number;
  lat_max_us: number;
  rps: number;
  errors: number;
}

export interface WrkArgs {
  url: string;
  connections: number;
  threads: number;
  seconds: number;
  close: boolean;
  timeoutS?: number;
}

function wrkArgs(a: WrkArgs): string[] {
  if (!/^http:\/\/(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+:\d+\//.test(a.url)) throw new Error(`refusing wrk target ${a.url}: documentation ranges only`);
  // `timeout -s INT`: a wrk that overruns still stops and reports.
  return ["netns", "exec", HOSTS.client.ns, "timeout", "-s", "INT", String(a.seconds + 15), "env", `BENCH_CLOSE=${a.close ? 1 : 0}`, "wrk", `-t${a.threads}`, `-c${a.connections}`, `-d${a.seconds}s`, `--timeout`, `${a.timeoutS ?? 2}s`, "-s", join(REPO, "bench/wrk-report.lua"), a.url];
}

export function parseWrk(out: string): WrkResult {
  const line = out.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (!line) throw new Error(`wrk printed no BENCH_JSON line:\n${out.slice(-1500)}`);
  const j = JSON.parse(line.slice("BENCH_JSON ".length));
  const errors = j.connect + j.read + j.write + j.status + j.timeout;
  return { ...j, rps: j.requests / (j.duration_us / 1e6), errors };
}

/** Runs wrk in the client namespace to completion. */
export function wrk(a: WrkArgs): WrkResult {
  const r = sh("ip", wrkArgs(a), { timeoutMs: (a.seconds + 30) * 1000 });
  return parseWrk(r.stdout);
}

/** Starts wrk in the background (bounded by `seconds`); stop() ends it early with SIGINT (wrk still reports). */
export function wrkBackground(a: WrkArgs): { done: Promise<WrkResult>; stop: () => void } {
  const child = spawn("ip", wrkArgs(a), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const done = new Promise<WrkResult>((resolve, reject) => {
    child.on("close", () => {
      try {
        resolve(parseWrk(out));
      } catch (e) {
        reject(e);
      }
    });
  });
  // `ip netns exec` execs timeout, which passes SIGINT on to wrk.
  return { done, stop: () => child.kill("SIGINT") };
}

/** `curl` from the client namespace; returns the HTTP code ("000" when nothing answered). */
export function curlCode(url: string, timeoutS = 2): string {
  return inNs("client", "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", String(timeoutS), url], { allowFail: true }).stdout.trim();
}

export async function waitFor(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (ok()) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return "n/a";
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
