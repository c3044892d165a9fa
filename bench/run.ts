// `npm run bench` (= tsx bench/run.ts): what the generated config costs on the data path, pushes
// under load, health-check failover, how the program scales with the cluster, and the engine's time.
// A benchmark, not a test: it never fails on a figure. It prints a table and writes bench/results.md
// (+ bench/results.json with every sample). Root only (network namespaces ihp-bench-*, torn down at the end).
//
//   npm run bench                      # full run, ~10-15 min on 2 cores
//   npm run bench -- --quick           # ~2-3 min, fewer rounds, shorter runs, no feature toggles
//   npm run bench -- --only=scale,datapath   # sections: datapath, pushes, failover, scale, engine
//   npm run bench -- --out=/tmp/x.md   # write elsewhere (default bench/results.md)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { renderFiles } from "../scripts/render";
import { renderHaproxyConfig } from "../components/haproxy/config";
import { digestKey } from "../components/haproxy/digest";
import { pushCommand, pushInvocation, haproxyPushParams } from "../components/haproxy/push-script";
import { parseSettings } from "../components/settings";
import { HOSTS, REPO, TOGGLE_DESCRIPTIONS, generatedConfig, type Toggle } from "./configs";
import { haproxyPids, hostsUp, netnsDown, nginxPids, stopSink, type BenchHosts, type Variant } from "./hosts";
import { cpuSeconds, childrenOf, fmt, inNs, median, minMax, readPid, sh, sleep, wrk, wrkBackground, type WrkResult } from "./lib";
import { scaledRaw } from "./scale-config";
import { engineSection, type EngineResult } from "./engine";

const SECTIONS = ["datapath", "pushes", "failover", "scale", "engine"] as const;
type Section = (typeof SECTIONS)[number];

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const onlyArg = args.find((a) => a.startsWith("--only="));
const only = new Set<Section>((onlyArg ? onlyArg.slice(7).split(",") : SECTIONS) as Section[]);
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s}; use ${SECTIONS.join(",")}`);
const outArg = args.find((a) => a.startsWith("--out="));
const OUT = outArg ? outArg.slice(6) : join(REPO, "bench/results.md");

const log = (...m: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...m);

// ---------------------------------------------------------------- machine

function machine(): Record<string, string> {
  const first = (cmd: string, a: string[]) => {
    const r = spawnSync(cmd, a, { encoding: "utf8" });
    return ((r.stdout || "") + (r.stderr || "")).split("\n")[0].trim();
  };
  return {
    nproc: first("nproc", []),
    cpu: cpus()[0]?.model ?? "unknown",
    kernel: first("uname", ["-sr"]),
    haproxy: first("haproxy", ["-v"]).replace(/ - https.*$/, ""),
    nginx: first("nginx", ["-v"]).replace(/^nginx version: /, ""),
    wrk: first("wrk", ["-v"]).split(" [")[0],
    node: process.version,
    memory: `${Math.round(Number(readFileSync("/proc/meminfo", "utf8").match(/MemTotal:\s+(\d+)/)![1]) / 1048576)} GiB`,
    loadavg: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
}

// ---------------------------------------------------------------- 1. data path

interface Row {
  id: string;
  label: string;
  connections: number;
  threads: number;
  close: boolean;
  seconds: number;
  latency: boolean;
}

interface Sample {
  rps: number;
  usPerReq: number; // 1e6 / rps at one connection: wall time per request
  p50: number;
  hapCpuUs: number;
  nginxCpuUs: number;
  errors: number;
  requests: number;
}

type DataPath = {
  rounds: number;
  rows: Row[];
  variants: { id: string; label: string }[];
  samples: Record<string, Record<string, Sample[]>>;
  logDatagrams: number;
  healthLinesPerMinute: number;
};

function measure(h: BenchHosts, v: Variant, row: Row): Sample {
  const hp = haproxyPids(v);
  const np = nginxPids(h);
  const c0 = cpuSeconds(hp);
  const n0 = cpuSeconds(np);
  const r: WrkResult = wrk({ url: v.url, connections: row.connections, threads: row.threads, seconds: row.seconds, close: row.close });
  const c1 = cpuSeconds(hp);
  const n1 = cpuSeconds(np);
  return {
    rps: r.rps,
    usPerReq: 1e6 / r.rps,
    p50: r.lat_p50_us,
    hapCpuUs: hp.length ? ((c1 - c0) * 1e6) / r.requests : NaN,
    nginxCpuUs: ((n1 - n0) * 1e6) / r.requests,
    errors: r.errors,
    requests: r.requests,
  };
}

async function dataPath(hosts: BenchHosts): Promise<DataPath> {
  // The failover candidate runs beside them but is not a data-path variant.
  const h = { ...hosts, variants: hosts.variants.filter((v) => v.id !== "gen-tuned") };
  const s = quick ? 1 : 3;
  const rows: Row[] = [
    { id: "ka32", label: "keep-alive, 32 connections (req/s)", connections: 32, threads: 2, close: false, seconds: s, latency: false },
    { id: "close32", label: "`Connection: close`, 32 connections (req/s)", connections: 32, threads: 2, close: true, seconds: s, latency: false },
    { id: "lat1", label: "keep-alive, 1 connection (us per request)", connections: 1, threads: 1, close: false, seconds: quick ? 1 : 2, latency: true },
    { id: "lat1close", label: "`Connection: close`, 1 connection (us per request)", connections: 1, threads: 1, close: true, seconds: quick ? 1 : 2, latency: true },
  ];
  const rounds = quick ? 2 : 5;
  const samples: DataPath["samples"] = {};
  for (const row of rows) samples[row.id] = Object.fromEntries(h.variants.map((v) => [v.id, [] as Sample[]]));
  log(`data path: warm-up`);
  for (const v of h.variants) wrk({ url: v.url, connections: 32, threads: 2, seconds: 1, close: false });
  const healthBefore = healthLineCount(h);
  const t0 = Date.now();
  for (let round = 1; round <= rounds; round++) {
    for (const row of rows) {
      // a, b, c, ... in the same order every time, side by side.
      for (const v of h.variants) samples[row.id][v.id].push(measure(h, v, row));
    }
    log(`data path: round ${round}/${rounds} done`);
  }
  const minutes = (Date.now() - t0) / 60000;
  return {
    rounds,
    rows,
    variants: h.variants.map((v) => ({ id: v.id, label: v.label })),
    samples,
    logDatagrams: NaN,
    healthLinesPerMinute: (healthLineCount(h) - healthBefore) / minutes / h.variants.filter((v) => v.id.startsWith("gen") && v.id !== "gen-nolog").length,
  };
}

function healthLineCount(h: BenchHosts): number {
  try {
    return readFileSync(h.syslogReport + ".health", "utf8").split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
}

/** Median over rounds of the per-round ratio a/b (side by side in one round). */
function ratio(dp: DataPath, row: string, a: string, b: string, key: keyof Sample = "rps"): number {
  const xs = dp.samples[row][a];
  const ys = dp.samples[row][b];
  return median(xs.map((x, i) => (x[key] as number) / (ys[i][key] as number)));
}

function delta(dp: DataPath, row: string, a: string, b: string, key: keyof Sample): number {
  const xs = dp.samples[row][a];
  const ys = dp.samples[row][b];
  return median(xs.map((x, i) => (x[key] as number) - (ys[i][key] as number)));
}

/** Per-round values of a/b (ratio) or a-b (delta): min-max, and whether every round agrees on the side. */
function spread(dp: DataPath, row: string, a: string, b: string, key: keyof Sample, kind: "ratio" | "delta"): string {
  const xs = dp.samples[row][a];
  const ys = dp.samples[row][b];
  const v = xs.map((x, i) => (kind === "ratio" ? (x[key] as number) / (ys[i][key] as number) : (x[key] as number) - (ys[i][key] as number)));
  const [lo, hi] = minMax(v);
  const pivot = kind === "ratio" ? 1 : 0;
  const side = lo > pivot || hi < pivot ? "every round" : "noise";
  return `${fmt(lo, kind === "ratio" ? 2 : 1)}..${fmt(hi, kind === "ratio" ? 2 : 1)} (${side})`;
}

const med = (dp: DataPath, row: string, v: string, key: keyof Sample) => median(dp.samples[row][v].map((s) => s[key] as number));

// ---------------------------------------------------------------- 2. pushes under load

interface Pushes {
  pushes: number;
  ok: number;
  pushSeconds: number[];
  requests: number;
  failed: number;
  failedDetail: string;
  workersAfter: number;
  workersAfterLoad: number;
  load: string;
}

async function pushesUnderLoad(h: BenchHosts): Promise<Pushes> {
  const v = h.variants.find((x) => x.id === "gen")!;
  const s = v.settings!;
  const lb = s.loadBalancers[0];
  const n = quick ? 5 : 20;
  const seconds = 120; // upper bound; stopped as soon as the pushes are done
  const close = wrkBackground({ url: v.url, connections: 16, threads: 1, seconds, close: true, timeoutS: 2 });
  const ka = wrkBackground({ url: v.url, connections: 16, threads: 1, seconds, close: false, timeoutS: 2 });
  await sleep(1000);
  const pushSeconds: number[] = [];
  let ok = 0;
  const base = generatedConfig(s);
  for (let i = 1; i <= n; i++) {
    const t = Date.now();
    // Each push carries different bytes, so each one really reloads.
    const p = pushCommand(s, lb, { content: `${base}# bench push ${i}\n`, digestKey: BENCH_DIGEST_KEY, owner: "bench" });
    const r = inNs("lb", "bash", ["-c", p.command], { input: p.stdin, allowFail: true, timeoutMs: 60_000 });
    pushSeconds.push((Date.now() - t) / 1000);
    if (r.status === 0 && /reloaded haproxy: new worker/.test(r.stdout)) ok++;
    else log(`push ${i} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split("\n").pop()}`);
  }
  await sleep(1000);
  const master = readPid(v.pidFile!);
  const workersAfter = childrenOf(master).length;
  close.stop();
  ka.stop();
  const [rc, rk] = await Promise.all([close.done, ka.done]);
  await sleep(1500);
  const workersAfterLoad = childrenOf(master).length;
  const detail = (r: WrkResult) => `connect ${r.connect}, read ${r.read}, write ${r.write}, timeout ${r.timeout}, non-2xx ${r.status}`;
  return {
    pushes: n,
    ok,
    pushSeconds,
    requests: rc.requests + rk.requests,
    failed: rc.errors + rk.errors,
    failedDetail: `close load: ${detail(rc)}; keep-alive load: ${detail(rk)}`,
    workersAfter,
    workersAfterLoad,
    load: `wrk 16 connections with \`Connection: close\` (${fmt(rc.rps)} req/s) + wrk 16 keep-alive connections (${fmt(rk.rps)} req/s), both through the generated config`,
  };
}

const BENCH_DIGEST_KEY = digestKey("bench stand-in for the stack's SSH private key");

interface PushFaults {
  pushes: number;
  /** Fault → exit codes seen. */
  outcomes: Record<string, number[]>;
  requests: number;
  failed: number;
  failedDetail: string;
  load: string;
}

/** The same bytes but one, in the config's middle: the byte count still matches, the digest does not. */
function corruptOneByte(full: string): string {
  const at = Math.floor(full.length * 0.75);
  return full.slice(0, at) + (full[at] === "x" ? "y" : "x") + full.slice(at + 1);
}

/**
 * Pushes with faults injected, under the same load as section 2: truncated and corrupted input, a
 * config that binds nothing, one that passes -c and fails at reload (rolled back), a SIGHUP partway
 * through a push (timed, so it lands at varying steps), each followed by a good push. Goal: 0 failed.
 */
async function pushFaultsUnderLoad(h: BenchHosts): Promise<PushFaults> {
  const v = h.variants.find((x) => x.id === "gen")!;
  const s = v.settings!;
  const params = haproxyPushParams(s, s.loadBalancers[0]);
  const rounds = quick ? 1 : 4;
  const close = wrkBackground({ url: v.url, connections: 16, threads: 1, seconds: 300, close: true, timeoutS: 2 });
  const ka = wrkBackground({ url: v.url, connections: 16, threads: 1, seconds: 300, close: false, timeoutS: 2 });
  await sleep(1000);
  const base = generatedConfig(s);
  const outcomes: Record<string, number[]> = {};
  let pushes = 0;
  /** One push; `hupAfter` (e.g. "0.3"): timeout(1) sends SIGHUP to the push that long after its start. */
  const run = (fault: string, content: string, stdin?: (full: string) => string, hupAfter?: string) => {
    const p = pushInvocation(params, { content, digestKey: BENCH_DIGEST_KEY, owner: "bench" }, "bench-push");
    // A fault that leaves the input as it was would count a good push as a survived fault.
    const input = stdin ? stdin(p.stdin) : p.stdin;
    if (stdin && input === p.stdin) throw new Error(`bench fault "${fault}" did not change the push's input`);
    const [cmd, ...args] = [...(hupAfter ? ["timeout", "-s", "HUP", hupAfter] : []), "bash", "-c", p.command];
    const r = inNs("lb", cmd, args, { input, allowFail: true, timeoutMs: 60_000 });
    (outcomes[fault] ??= []).push(r.status ?? -1);
    pushes++;
  };
  for (let i = 1; i <= rounds; i++) {
    const next = `${base}# bench fault round ${i}\n`;
    run("truncated stdin", next, (full) => full.slice(0, Math.floor(full.length / 2)));
    run("corrupted stdin", next, corruptOneByte);
    run("binds nothing", next.replace(/\n\s+bind [^\n]+/g, ""));
    run("fails at reload", next.replace(/(frontend http-in\n)/, "$1    bind unix@/nonexistent/bench.sock\n"));
    run("SIGHUP partway", next, undefined, `0.${2 * i + 1}`);
    run("good push after the faults", next);
  }
  await sleep(1000);
  close.stop();
  ka.stop();
  const [rc, rk] = await Promise.all([close.done, ka.done]);
  const detail = (r: WrkResult) => `connect ${r.connect}, read ${r.read}, write ${r.write}, timeout ${r.timeout}, non-2xx ${r.status}`;
  return {
    pushes,
    outcomes,
    requests: rc.requests + rk.requests,
    failed: rc.errors + rk.errors,
    failedDetail: `close load: ${detail(rc)}; keep-alive load: ${detail(rk)}`,
    load: `wrk 16 connections with \`Connection: close\` + 16 keep-alive connections through the generated config`,
  };
}

// ---------------------------------------------------------------- 3. failover

interface FailoverRun {
  variant: string;
  sent: number;
  errors: number;
  failed: number;
  failedBefore: number;
  lastFailedAfterS: number;
  firstCleanSecond: number;
  downAfterS: number;
  slowOk: number;
  maxOkMs: number;
}

interface Failover {
  window: string;
  windowS: number;
  expectedS: number;
  runs: FailoverRun[];
  load: string;
}

/** A request "fails" when it gets no 200 or takes longer than this (what a client would give up after). */
const FAIL_AFTER_MS = 2000;

async function failover(h: BenchHosts): Promise<Failover> {
  const gen = h.variants.find((x) => x.id === "gen")!;
  const hc = gen.settings!.haproxy.healthCheck;
  const windowS = (hc.interMs * hc.fall) / 1000;
  const runs: FailoverRun[] = [];
  const plan = quick ? [gen] : [gen, gen, ...h.variants.filter((x) => x.id === "gen-tuned")];
  const rateHz = 200;
  const total = quick ? 22 : 28;
  const blackholeAt = 3;
  const victim = HOSTS.node.addresses[1];
  const rule = ["INPUT", "-d", victim, "-m", "comment", "--comment", "ihp-bench-blackhole", "-j", "DROP"];
  for (const v of plan) {
    const port = Number(new URL(v.url).port);
    // The client waits up to 20 s so the figures show what redispatch does; "failed" is > 2 s or no 200.
    const lg = spawnLoad({ target: HOSTS.lb.address, port, rateHz, seconds: total, timeoutMs: 20_000 });
    await sleep(blackholeAt * 1000);
    const t0 = Date.now();
    inNs("node", "iptables", ["-I", ...rule]);
    const res = await lg;
    inNs("node", "iptables", ["-D", ...rule], { allowFail: true });
    const failedReq = (r: [number, number, number]) => !r[2] || r[1] > FAIL_AFTER_MS;
    const fails = res.results.filter(failedReq);
    const after = fails.filter((r) => r[0] >= t0);
    const lastFailed = after.length ? Math.max(...after.map((r) => r[0])) : t0;
    const oks = res.results.filter((r) => r[2]);
    const pid = readPid(v.pidFile!);
    const down = readHealth(h).find((l) => l.t >= t0 && /http-nodeport\/node-2\b.*\bDOWN\b/.test(l.line) && lineFromFamily(l.line, pid));
    runs.push({
      variant: v.id,
      sent: res.sent,
      errors: res.failed,
      failed: fails.length,
      failedBefore: fails.length - after.length,
      lastFailedAfterS: after.length ? (lastFailed - t0) / 1000 : 0,
      firstCleanSecond: after.length ? Math.ceil((lastFailed - t0) / 1000) : 0,
      downAfterS: down ? (down.t - t0) / 1000 : NaN,
      slowOk: oks.filter((r) => r[1] > FAIL_AFTER_MS).length,
      maxOkMs: Math.max(0, ...oks.map((r) => r[1])),
    });
    log(`failover ${v.id}: ${JSON.stringify(runs[runs.length - 1])}`);
    // node-2 back UP (rise x inter) before anything else runs.
    await sleep(hc.interMs * (hc.rise + 1) + 1000);
  }
  return {
    window: `inter ${hc.interMs} ms x fall ${hc.fall} = ${windowS} s`,
    windowS,
    expectedS: (hc.fall * (hc.interMs + hc.interMs)) / 1000,
    runs,
    load: `${rateHz} req/s paced, one new connection each; a request with no 200 or slower than ${FAIL_AFTER_MS / 1000} s counts as failed (the client waits up to 20 s to see what happens to it); node-2 (${victim}) blackholed (iptables DROP on the node) ${blackholeAt} s in; ${total} s per run`,
  };
}

/** Syslog lines carry `haproxy[PID]`: keep those of one instance (its master's workers). */
function lineFromFamily(line: string, master: number): boolean {
  const m = /haproxy\[(\d+)\]/.exec(line);
  if (!m) return false;
  const pid = Number(m[1]);
  if (pid === master) return true;
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]) === master;
  } catch {
    return true; // worker gone since (a reload): cannot tell, keep it
  }
}

function readHealth(h: BenchHosts): { t: number; line: string }[] {
  try {
    return readFileSync(h.syslogReport + ".health", "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

function spawnLoad(p: object): Promise<{ sent: number; ok: number; failed: number; results: [number, number, number][] }> {
  return new Promise((resolve, reject) => {
    const { spawn } = require("node:child_process") as typeof import("node:child_process");
    const child = spawn("ip", ["netns", "exec", HOSTS.client.ns, process.execPath, join(REPO, "bench/loadgen.mjs"), JSON.stringify(p)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`loadgen exit ${code}: ${err.slice(-500)}`));
      }
    });
  });
}

// ---------------------------------------------------------------- 4. scale

interface ScaleRow {
  nodes: number;
  parseMs: number;
  renderMs: number;
  renderAllMs: number;
  validateMs: number;
  validateOk: boolean;
  cfgBytes: number;
  firstCallMs: number;
  renderNoStatsMs: number;
  processMs: number;
}

interface Scale {
  stack: string;
  lbs: number;
  rows: ScaleRow[];
  changed: { stack: string; lbs: number; from: number; files: string[]; resources: string[] | string }[];
}

function timeIt(fn: () => unknown, reps: number): { first: number; median: number } {
  const times: number[] = [];
  for (let i = 0; i < reps + 1; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return { first: times[0], median: median(times.slice(1)) };
}

function scale(): Scale {
  const dir = mkdtempSync(join(tmpdir(), "ihp-bench-scale-"));
  try {
    return scaleIn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function scaleIn(dir: string): Scale {
  const stack = "prod";
  const rows: ScaleRow[] = [];
  const secrets = { sshPrivateKey: true, statsPassword: true };
  for (const n of [3, 100, 1000]) {
    const raw = scaledRaw(stack, n);
    const whole = timeIt(() => {
      const s = parseSettings(raw, secrets);
      for (const lb of s.loadBalancers) renderHaproxyConfig(s, lb, { statsPassword: "bench" });
    }, 5);
    const parse = timeIt(() => parseSettings(raw, secrets), 5);
    const s = parseSettings(raw, secrets);
    const render = timeIt(() => {
      for (const lb of s.loadBalancers) renderHaproxyConfig(s, lb, { statsPassword: "bench" });
    }, 5);
    const all = timeIt(() => renderFiles(stack, s), 3);
    const sNoStats = parseSettings({ ...raw, haproxy: { ...(raw.haproxy as object), stats: { enabled: false } } }, { sshPrivateKey: true });
    const renderNoStats = timeIt(() => {
      for (const lb of sNoStats.loadBalancers) renderHaproxyConfig(sNoStats, lb);
    }, 5);
    // The whole `npm run render` process (tsx start, parse, render, write every file) for this stack.
    const stackFile = join(dir, `Pulumi.scale-${n}.yaml`);
    writeFileSync(stackFile, YAML.stringify({ config: Object.fromEntries(Object.entries(raw).map(([k, v]) => [`ingress-haproxy:${k}`, v])) }));
    const tp = performance.now();
    sh(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "scripts/render.ts"), stack, "--config-file", stackFile, "--out", join(dir, `render-${n}`)]);
    const processMs = performance.now() - tp;
    const cfg = renderHaproxyConfig(s, s.loadBalancers[0], { statsPassword: "bench" });
    const file = join(dir, `scale-${n}.cfg`);
    writeFileSync(file, cfg);
    const v: number[] = [];
    let ok = true;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const r = sh("haproxy", ["-c", "-q", "-f", file], { allowFail: true });
      v.push(performance.now() - t);
      ok &&= r.status === 0;
    }
    rows.push({
      nodes: n,
      parseMs: parse.median,
      renderMs: render.median,
      renderAllMs: all.median,
      validateMs: median(v),
      validateOk: ok,
      cfgBytes: Buffer.byteLength(cfg),
      firstCallMs: whole.first,
      renderNoStatsMs: renderNoStats.median,
      processMs,
    });
    log(`scale ${n}: ${JSON.stringify(rows[rows.length - 1])}`);
  }
  const changed: Scale["changed"] = [];
  for (const st of ["dev", "prod"]) {
    for (const from of [3, 100]) {
      const a = renderFiles(st, parseSettings(scaledRaw(st, from), secrets));
      const b = renderFiles(st, parseSettings(scaledRaw(st, from + 1), secrets));
      const before = new Map(a.files.map((f) => [f.path, f.content]));
      const files = b.files.filter((f) => before.get(f.path) !== f.content).map((f) => f.path);
      let resources: string[] | string;
      try {
        const ga = programGraph(st, from);
        const gb = programGraph(st, from + 1);
        resources = [...new Set([...Object.keys(ga), ...Object.keys(gb)])].filter((k) => ga[k] !== gb[k]).sort();
      } catch (e) {
        resources = `not measured: ${(e as Error).message.split("\n")[0]}`;
      }
      changed.push({ stack: st, lbs: a.pushed.filter((p) => p.file.endsWith("haproxy.cfg")).length, from, files, resources });
    }
  }
  return { stack, lbs: parseSettings(scaledRaw(stack, 3), secrets).loadBalancers.length, rows, changed };
}

function programGraph(stack: string, n: number): Record<string, string> {
  const r = sh(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "bench/graph.ts"), stack, String(n)], { timeoutMs: 120_000 });
  return JSON.parse(r.stdout.trim().split("\n").pop()!).resources;
}

// ---------------------------------------------------------------- report

function report(m: Record<string, string>, dp?: DataPath, pu?: Pushes, fo?: Failover, sc?: Scale, en?: EngineResult, elapsed?: number, pf?: PushFaults): string {
  const L: string[] = [];
  const add = (...x: string[]) => L.push(...x);
  add(
    "# Benchmark results",
    "",
    `Written by \`npm run bench${quick ? " -- --quick" : ""}\` (bench/run.ts) on ${m.date}; ${elapsed ? `took ${fmt(elapsed / 60, 1)} min` : ""}. A benchmark, not a test: nothing here fails on a figure.`,
    "Client, HAProxy and nginx share the machine's cores, so absolute figures are this machine's; compare the rows with each other (they were measured side by side, interleaved).",
    "",
    "## Machine",
    "",
    "| | |",
    "| --- | --- |",
    ...Object.entries(m).map(([k, v]) => `| ${k} | ${v} |`),
    "",
  );
  if (dp) {
    const vs = dp.variants;
    add(
      "## 1. Data path",
      "",
      `Medians of ${dp.rounds} interleaved rounds (${vs.map((v) => v.id).join(", ")}, ${vs.map((v) => v.id).join(", ")}, ...); ratios are medians of the per-round ratios against the reference (b). CPU = utime+stime of the HAProxy processes (or nginx) over the run / requests.`,
      "",
      "| path | row | req/s | us/request (1 conn) | p50 us | HAProxy CPU us/req | nginx CPU us/req | vs reference | errors |",
      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const row of dp.rows) {
      for (const v of vs) {
        const errs = dp.samples[row.id][v.id].reduce((a, s) => a + s.errors, 0);
        const [lo, hi] = minMax(dp.samples[row.id][v.id].map((s) => s.rps));
        add(
          `| ${v.label} | ${row.label} | ${fmt(med(dp, row.id, v.id, "rps"))} (${fmt(lo)}-${fmt(hi)}) | ${row.latency ? fmt(med(dp, row.id, v.id, "usPerReq"), 1) : ""} | ${row.latency ? fmt(med(dp, row.id, v.id, "p50")) : ""} | ${fmt(med(dp, row.id, v.id, "hapCpuUs"), 1)} | ${fmt(med(dp, row.id, v.id, "nginxCpuUs"), 1)} | ${v.id === "ref" ? "1.00x" : fmt(ratio(dp, row.id, v.id, "ref"), 2) + "x"} | ${errs} |`,
        );
      }
    }
    add(
      "",
      "### Generated (c) against the reference (b), side by side",
      "",
      "Per-round range: \"every round\" = all rounds fall on the same side of 1.00x (or of 0 us); \"noise\" = they do not, so the difference is within this machine's noise.",
      "",
      "| row | c/b req/s | per-round range | target >= 0.95x | extra us per request (c - b) | target <= 3 us | extra HAProxy CPU us/req | per-round range |",
      "| --- | ---: | --- | --- | ---: | --- | ---: | --- |",
    );
    for (const row of dp.rows) {
      const r = ratio(dp, row.id, "gen", "ref");
      const d = delta(dp, row.id, "gen", "ref", "usPerReq");
      const cpu = delta(dp, row.id, "gen", "ref", "hapCpuUs");
      add(
        `| ${row.label} | ${fmt(r, 3)}x | ${spread(dp, row.id, "gen", "ref", "rps", "ratio")} | ${r >= 0.95 ? "met" : "**missed**"} | ${row.latency ? fmt(d, 1) : ""} | ${row.latency ? (d <= 3 ? "met" : "**missed**") : "(1-conn rows)"} | ${fmt(cpu, 1)} | ${spread(dp, row.id, "gen", "ref", "hapCpuUs", "delta")} |`,
      );
    }
    const toggles = vs.filter((v) => /^gen-no/.test(v.id)).map((v) => v.id.slice(4) as Toggle);
    if (toggles.length) {
      add(
        "",
        "### What each generated feature costs (generated with it vs. generated without it, side by side)",
        "",
        "Cost = c / c-without-feature (below 1.00x: the feature costs throughput); extra = c minus c-without-feature.",
        "",
        "| feature switched off | row | c / without | per-round range | extra us per request | extra HAProxy CPU us/req | per-round range |",
        "| --- | --- | ---: | --- | ---: | ---: | --- |",
      );
      for (const t of toggles)
        for (const row of dp.rows)
          add(
            `| ${TOGGLE_DESCRIPTIONS[t]} | ${row.label} | ${fmt(ratio(dp, row.id, "gen", `gen-${t}`), 3)}x | ${spread(dp, row.id, "gen", `gen-${t}`, "rps", "ratio")} | ${row.latency ? fmt(delta(dp, row.id, "gen", `gen-${t}`, "usPerReq"), 1) : ""} | ${fmt(delta(dp, row.id, "gen", `gen-${t}`, "hapCpuUs"), 1)} | ${spread(dp, row.id, "gen", `gen-${t}`, "hapCpuUs", "delta")} |`,
          );
    }
    for (const cand of vs.filter((v) => v.id === "gen-quietlog")) {
      add(
        "",
        `### Candidate: ${cand.label.replace(/^candidate: /, "")} (logs only abnormal connections) against the reference and the generated config`,
        "",
        "| row | candidate / reference | per-round range | candidate / generated | extra HAProxy CPU us/req vs reference | per-round range |",
        "| --- | ---: | --- | ---: | ---: | --- |",
      );
      for (const row of dp.rows)
        add(
          `| ${row.label} | ${fmt(ratio(dp, row.id, cand.id, "ref"), 3)}x | ${spread(dp, row.id, cand.id, "ref", "rps", "ratio")} | ${fmt(ratio(dp, row.id, cand.id, "gen"), 3)}x | ${fmt(delta(dp, row.id, cand.id, "ref", "hapCpuUs"), 1)} | ${spread(dp, row.id, cand.id, "ref", "hapCpuUs", "delta")} |`,
        );
    }
    add("", `Health-check log lines (\`option log-health-checks\`) per minute per generated instance during the rounds (no state change): ${fmt(dp.healthLinesPerMinute, 1)}; syslog datagrams received in the whole run: ${fmt(dp.logDatagrams)}.`, "");
  }
  if (pu) {
    add(
      "## 2. Pushes under load",
      "",
      `${pu.pushes} pushes of the generated haproxy.cfg with the program's push script (validate, lock, swap, \`kill -USR2\` reload, new-worker check), run on the LB host (no SSH), each with different bytes. Load: ${pu.load}.`,
      "",
      "| pushes | succeeded | push time (median, min-max) | requests during pushes | failed requests | HAProxy workers right after the last push | after the load stopped |",
      "| ---: | ---: | --- | ---: | ---: | ---: | ---: |",
      `| ${pu.pushes} | ${pu.ok} | ${fmt(median(pu.pushSeconds), 2)} s (${fmt(minMax(pu.pushSeconds)[0], 2)}-${fmt(minMax(pu.pushSeconds)[1], 2)}) | ${fmt(pu.requests)} | **${pu.failed}** (target 0) | ${pu.workersAfter} | ${pu.workersAfterLoad} |`,
      "",
      `Failed requests by kind: ${pu.failedDetail}.`,
      "",
    );
  }
  if (pf) {
    add(
      "## 2b. Pushes with faults injected, under load",
      "",
      `${pf.pushes} pushes: ${Object.entries(pf.outcomes).map(([k, v]) => `${k} (exit ${[...new Set(v)].join("/")})`).join(", ")}. Load: ${pf.load}.`,
      "",
      "| pushes | requests during the pushes | requests failed across pushes with faults injected |",
      "| ---: | ---: | ---: |",
      `| ${pf.pushes} | ${fmt(pf.requests)} | **${pf.failed}** (goal 0) |`,
      "",
      `Failed requests by kind: ${pf.failedDetail}.`,
      "",
    );
  }
  if (fo) {
    add(
      "## 3. Health-check failover",
      "",
      `Configured window (dev stack): ${fo.window}. Against a blackhole each failed check waits for its own timeout (\`inter\`, no \`timeout check\`), so about fall x (inter + inter) = ${fmt(fo.expectedS, 0)} s is expected. Load: ${fo.load}.`,
      "",
      "| config | requests | failed (no 200 or > 2 s) | of which no 200 at all | failed before the blackhole | HAProxy marks node-2 DOWN after | last failed request started after | first second with no failed request | 200 but > 2 s | slowest 200 |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...fo.runs.map((r) => `| ${r.variant === "gen" ? "generated (dev)" : "candidate: connect 1 s + check 1 s"} | ${r.sent} | ${r.failed} | ${r.errors} | ${r.failedBefore} | ${fmt(r.downAfterS, 2)} s | ${fmt(r.lastFailedAfterS, 2)} s | ${r.firstCleanSecond} s (window ${fo.windowS} s) | ${r.slowOk} | ${fmt(r.maxOkMs)} ms |`),
      "",
    );
  }
  if (sc) {
    add(
      "## 4. Scale of the program",
      "",
      `Stack \`${sc.stack}\` (${sc.lbs} load balancers, stats on) with N nodes (IPv4 203.0.113.x up to 240, then IPv6 2001:db8:1::/64). Medians of 5 warm runs; "first call" = the first parse + render in this process (cold JIT). Validate = \`haproxy -c\` of one LB's file (median of 3).`,
      "",
      "| nodes | parseSettings | render haproxy.cfg (all LBs) | same, stats off | render every file of the stack | haproxy -c | parse + render + validate | first call (parse + render) | `npm run render` process | haproxy.cfg size |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...sc.rows.map(
        (r) =>
          `| ${r.nodes} | ${fmt(r.parseMs, 2)} ms | ${fmt(r.renderMs, 2)} ms | ${fmt(r.renderNoStatsMs, 2)} ms | ${fmt(r.renderAllMs, 2)} ms | ${fmt(r.validateMs, 1)} ms${r.validateOk ? "" : " (FAILED)"} | ${fmt(r.parseMs + r.renderMs + r.validateMs, 1)} ms | ${fmt(r.firstCallMs, 1)} ms | ${fmt(r.processMs / 1000, 2)} s | ${fmt(r.cfgBytes / 1024, 1)} KiB |`,
      ),
      "",
      "What changes when one node is added (target: exactly one resource per LB host):",
      "",
      "| stack | LB hosts | nodes | rendered files whose bytes change | program resources whose inputs change (index.ts under mocks) |",
      "| --- | ---: | --- | --- | --- |",
      ...sc.changed.map(
        (c) => `| ${c.stack} | ${c.lbs} | ${c.from} -> ${c.from + 1} | ${c.files.length}: ${c.files.join(", ")} | ${Array.isArray(c.resources) ? `${c.resources.length}: ${c.resources.join(", ")}` : c.resources} |`,
      ),
      "",
    );
  }
  if (en) add("## 5. Engine time", "", ...en.lines, "");
  return L.join("\n") + "\n";
}

// ---------------------------------------------------------------- main

const TOOLS = ["ip", "iptables", "haproxy", "nginx", "wrk", "curl", "python3", "flock", "sha256sum"];

/** Installs what is missing with the project's own script (apt-get), then insists. */
function preflight(): void {
  const missing = () => TOOLS.filter((t) => spawnSync("bash", ["-c", `PATH=$PATH:/usr/sbin:/sbin command -v ${t}`]).status !== 0);
  if (missing().length) {
    log(`missing ${missing().join(", ")}: running scripts/install-test-deps.sh`);
    spawnSync("bash", [join(REPO, "scripts/install-test-deps.sh")], { stdio: "inherit" });
  }
  if (missing().length) throw new Error(`the bench needs ${missing().join(", ")} (apt-get install wrk haproxy nginx-light iptables curl python3)`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0 && (only.has("datapath") || only.has("pushes") || only.has("failover")))
    throw new Error("the data-path, push and failover sections need root (network namespaces); run as root or --only=scale,engine");
  if (only.has("datapath") || only.has("pushes") || only.has("failover")) preflight();
  const started = Date.now();
  const m = machine();
  log(`machine: ${JSON.stringify(m)}`);
  let dp: DataPath | undefined, pu: Pushes | undefined, fo: Failover | undefined, sc: Scale | undefined, en: EngineResult | undefined, pf: PushFaults | undefined;
  const needHosts = only.has("datapath") || only.has("pushes") || only.has("failover");
  const json: Record<string, unknown> = { machine: m, quick };
  const failures: string[] = [];
  const guarded = async <T>(name: string, fn: () => Promise<T> | T): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      log(`${name} FAILED: ${(e as Error).stack ?? e}`);
      failures.push(`${name}: ${String((e as Error).message ?? e).split("\n").slice(0, 3).join(" / ")}`);
      return undefined;
    }
  };
  if (only.has("scale")) {
    log("scale");
    sc = await guarded("scale", scale);
    json.scale = sc;
  }
  if (needHosts) {
    const ids = ["direct", "ref", "gen"];
    if (only.has("datapath") && !quick) ids.push("gen-nolog", "gen-nocheck", "gen-nostats", "gen-quietlog");
    if (only.has("failover") && !quick) ids.push("gen-tuned");
    let h: BenchHosts | undefined;
    const cleanup = () => {
      stopSink();
      netnsDown();
    };
    process.once("SIGINT", () => {
      cleanup();
      process.exit(130);
    });
    try {
      h = await guarded("hosts up", () => hostsUp(ids));
      if (h) {
        const hh = h;
        if (only.has("datapath")) {
          dp = await guarded("data path", () => dataPath(hh));
          json.datapath = dp;
        }
        if (only.has("pushes")) {
          log("pushes under load");
          pu = await guarded("pushes", () => pushesUnderLoad(hh));
          json.pushes = pu;
          log("pushes with faults injected under load");
          pf = await guarded("push faults", () => pushFaultsUnderLoad(hh));
          json.pushFaults = pf;
        }
        if (only.has("failover")) {
          log("failover");
          fo = await guarded("failover", () => failover(hh));
          json.failover = fo;
        }
        const sink = await h.stop();
        if (dp) dp.logDatagrams = sink.datagrams;
      }
    } finally {
      cleanup();
    }
  }
  if (only.has("engine")) {
    log("engine");
    en = await guarded("engine", () => engineSection(quick, log));
    json.engine = en;
  }
  m.loadavg_end = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  let text = report(m, dp, pu, fo, sc, en, (Date.now() - started) / 1000, pf);
  if (failures.length) text += "\n## Sections that failed in this run\n\n" + failures.map((f) => `- ${f}`).join("\n") + "\n";
  json.failures = failures;
  process.stdout.write(text);
  writeFileSync(OUT, text);
  writeFileSync(OUT.replace(/\.md$/, "") + ".json", JSON.stringify(json, null, 1) + "\n");
  log(`wrote ${OUT}`);
}

main().catch((e) => {
  console.error(e);
  stopSink();
  if (process.getuid?.() === 0) netnsDown();
  process.exit(1);
});
