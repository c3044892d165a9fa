// Helpers for the tests that run real haproxy, nginx, shellcheck and bash on this machine. They only
// touch loopback addresses (127.0.3.0/24, 127.0.4.0/24, ::1) and temp directories they create, and
// only stop processes they started (by pid).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Throws a clear error (so the test fails, never skips) if a tool or root is missing. */
export function requireTools(tools: string[]): void {
  const missing = tools.filter((t) => spawnSync("bash", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length)
    throw new Error(`the real-haproxy tests need ${missing.join(", ")} on PATH: apt-get install -y ${missing.map((t) => (t === "flock" ? "util-linux" : t)).join(" ")}`);
  if (process.getuid?.() !== 0) throw new Error("the real-haproxy tests need root (the generated config drops workers to the haproxy user)");
}

const createdDirs: string[] = [];

/** A fresh temp dir; removeTempDirs() deletes every one made so far. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `ihp-haproxy-${prefix}-`));
  createdDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of createdDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `command` the way sshd runs a remote command: `sh -c COMMAND`, with `input` on stdin. */
export function runShell(command: string, input = ""): RunResult {
  const t0 = Date.now();
  const r = spawnSync("sh", ["-c", command], { input, encoding: "utf8", timeout: 90_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

export function lastLine(text: string): string {
  const lines = text.trimEnd().split("\n");
  return lines[lines.length - 1];
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export function sha256Text(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Starts a master-worker haproxy daemon on `configPath`; returns the master pid (from `pidFile`). */
export function startHaproxy(configPath: string, pidFile: string): number {
  const r = spawnSync("haproxy", ["-W", "-D", "-f", configPath], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`haproxy did not start: ${r.stderr}`);
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  if (!(pid > 0)) throw new Error(`no master pid in ${pidFile}`);
  return pid;
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Stops a process this test started, by pid, and waits until it is gone. */
export async function stopPid(pid: number | undefined): Promise<void> {
  if (!pid || !isAlive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
}

/** Live children of `pid` (HAProxy workers of a master), sorted. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === pid && state !== "Z") out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out.sort((a, b) => a - b);
}

/** Pids holding a listening TCP socket on address:port (from `ss`). */
export function listenerPids(address: string, port: number): number[] {
  const host = address.includes(":") ? `[${address}]` : address;
  const r = spawnSync("ss", ["-Hltnp", "src", `${host}:${port}`], { encoding: "utf8" });
  return [...new Set([...r.stdout.matchAll(/pid=([0-9]+)/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Files the push left beside the target that are temp files (must be none). */
export function leftoverTemps(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.includes(".push.")) : [];
}
