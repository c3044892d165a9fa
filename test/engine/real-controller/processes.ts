// Long-running processes the harness starts (relays, kube-proxy, the pods' processes): each in its own
// session and process group, output to a log file, stopped by its own pid only.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly log: string;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
  alive(): boolean;
  /**
   * SIGTERM to the process (as a container runtime signals PID 1 only: the controller then stops its
   * own nginx), SIGKILL to its whole group after `graceMs`; resolves when it has ended.
   */
  stop(graceMs?: number): Promise<number | string>;
  /** A signal to the process group (e.g. SIGSTOP to freeze it). */
  signal(sig: NodeJS.Signals): void;
}

export function startProc(name: string, cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv = process.env, cwd?: string): Proc {
  const fd = openSync(log, "a");
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { detached: true, stdio: ["ignore", fd, fd], env, cwd });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`${name}: ${cmd} did not start`);
  const pid = child.pid;
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, sig) => {
      done = true;
      resolve(code ?? sig ?? "unknown");
    });
    child.on("error", () => {
      done = true;
      resolve("spawn-error");
    });
  });
  child.unref();
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      /* already gone */
    }
  };
  return {
    name,
    pid,
    log,
    exited,
    alive: () => !done,
    signal,
    stop: async (graceMs = 5000) => {
      if (done) return exited;
      signal("SIGCONT");
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => signal("SIGKILL"), graceMs);
      const r = await exited;
      clearTimeout(timer);
      // Children that outlived the leader (same group) go too.
      signal("SIGKILL");
      return r;
    },
  };
}

/** Runs a command to completion; throws with its output when it fails. */
export function sh(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"], timeout: 60_000 });
  } catch (e: any) {
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${e.status}): ${e.stderr ?? ""}${e.stdout ?? ""}`);
  }
}

/** `ip netns exec NS CMD ARGS` to completion. */
export const inNs = (ns: string, cmd: string, ...args: string[]): string => sh("ip", ["netns", "exec", ns, cmd, ...args]);
