// The push tests' host: a real sshd on a loopback address (the push runs exactly as the program sends
// it: `sh -c COMMAND` over SSH, stdin through the channel), a real master-worker HAProxy on the dev
// stack's config in a temp folder, a real nginx as the node (PROXY protocol on its NodePorts), and a
// load generator that counts failed requests through HAProxy. Loopback only (127.0.3.0/24); processes
// are stopped by pid.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, unlinkSync } from "node:fs";
import { request } from "node:http";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { digestKey } from "../../components/haproxy/digest";
import { haproxyPushParams, pushInvocation, restoreInvocation, type PushInput, type PushParams, type RemoteInvocation } from "../../components/haproxy/push-script";
import type { Settings } from "../../components/settings";
import { devRaw, settingsOf } from "../fixtures/settings";
import { childrenOf, isAlive, sleep, startHaproxy, stopPid, tempDir, waitFor } from "./real-env";

export const LB_ADDR = "127.0.3.1";
export const NODE_ADDR = "127.0.3.2";
export const SSH_ADDR = "127.0.3.3";

/** A stand-in SSH private key for the digest key: the tests' own client key text. */
export const TEST_DIGEST_KEY = digestKey("test ssh private key (only derives the digest key)");

export interface Sshd {
  readonly pid: number;
  readonly port: number;
  readonly keyPath: string;
  readonly knownHostsPath: string;
  readonly logPath: string;
}

function must(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/** A real sshd on SSH_ADDR:port for root with a fresh key pair; host key pinned in known_hosts. */
export async function startSshd(port: number): Promise<Sshd> {
  const dir = tempDir("sshd");
  const hostKey = `${dir}/host_ed25519`;
  const keyPath = `${dir}/client_ed25519`;
  must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyPath]);
  writeFileSync(`${dir}/authorized_keys`, readFileSync(`${keyPath}.pub`), { mode: 0o600 });
  const knownHostsPath = `${dir}/known_hosts`;
  writeFileSync(knownHostsPath, `[${SSH_ADDR}]:${port} ${readFileSync(`${hostKey}.pub`, "utf8").split(" ").slice(0, 2).join(" ")}\n`);
  const logPath = `${dir}/sshd.log`;
  writeFileSync(
    `${dir}/sshd_config`,
    [
      `Port ${port}`, `ListenAddress ${SSH_ADDR}`, `HostKey ${hostKey}`, `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${dir}/authorized_keys`, "PermitRootLogin prohibit-password", "PubkeyAuthentication yes",
      "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
      "PrintMotd no", "PrintLastLog no", "MaxStartups 100:30:200", "MaxSessions 100", "LogLevel INFO",
    ].join("\n") + "\n",
  );
  mkdirSync("/run/sshd", { recursive: true });
  must("/usr/sbin/sshd", ["-f", `${dir}/sshd_config`, "-E", logPath]);
  const pid = await waitFor("sshd pid", () => existsSync(`${dir}/sshd.pid`) && Number(readFileSync(`${dir}/sshd.pid`, "utf8").trim()));
  return { pid, port, keyPath, knownHostsPath, logPath };
}

export interface SshResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SshOptions {
  /** Send only this many bytes of stdin, then close it (a half-closed stream). */
  stdinBytes?: number;
  /** Called with the ssh client once it runs (to kill it: a lost session). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs `command` on the sshd host as root, `stdin` through the channel. */
export function sshRun(sshd: Sshd, command: string, stdin: string, opts: SshOptions = {}): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "ssh",
      [
        "-i", sshd.keyPath, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", `UserKnownHostsFile=${sshd.knownHostsPath}`, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-p", String(sshd.port), `root@${SSH_ADDR}`, command,
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin!.on("error", () => {});
    const data = Buffer.from(stdin);
    child.stdin!.end(opts.stdinBytes === undefined ? data : data.subarray(0, opts.stdinBytes));
    opts.onSpawn?.(child);
  });
}

export const lastLine = (text: string): string => text.trimEnd().split("\n").pop() ?? "";

/** A one-process nginx in `dir` with one `server` block; returns its pid. */
export function startNginx(dir: string, name: string, server: string): number {
  const conf = `${dir}/${name}.conf`;
  writeFileSync(
    conf,
    `master_process off;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/t1; proxy_temp_path ${dir}/t2; fastcgi_temp_path ${dir}/t3; uwsgi_temp_path ${dir}/t4; scgi_temp_path ${dir}/t5;
  server { ${server} }
}
`,
  );
  must("nginx", ["-c", conf, "-p", dir]);
  return Number(readFileSync(`${dir}/${name}.pid`, "utf8").trim());
}

/** nginx as the Kubernetes node: PROXY protocol on both NodePorts, answers 200 (also /healthz). */
export function startNodeNginx(dir: string, httpPort: number, httpsPort: number): number {
  return startNginx(dir, "node-nginx", `listen ${NODE_ADDR}:${httpPort} proxy_protocol; listen ${NODE_ADDR}:${httpsPort} proxy_protocol; return 200 "ok\\n";`);
}

export interface LoadCounts {
  ok: number;
  failed: number;
  errors: string[];
}

/** `workers` loops of GET http://LB_ADDR:port/ (a new connection each) until stop(). */
export function startLoad(port: number, workers = 2): { stop(): Promise<LoadCounts>; counts: LoadCounts } {
  const counts: LoadCounts = { ok: 0, failed: 0, errors: [] };
  let running = true;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = request({ host: LB_ADDR, port, path: "/", agent: false, headers: { Connection: "close" }, timeout: 3000 }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) counts.ok++;
          else (counts.failed++, counts.errors.push(`HTTP ${res.statusCode}`));
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e: NodeJS.ErrnoException) => {
        counts.failed++;
        counts.errors.push(e.code ?? e.message);
        resolve();
      });
      req.end();
    });
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      await one();
      await sleep(2);
    }
  });
  return {
    counts,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return counts;
    },
  };
}

/** One HAProxy host under test: its files, settings and the program's push for it. */
export interface LbHost {
  readonly dir: string;
  readonly settings: Settings;
  readonly params: PushParams;
  readonly cfgPath: string;
  readonly pidFile: string;
  readonly httpPort: number;
  master: number;
  /** The dev stack's config for this host; `httpsPort` moves the https frontend (a visible difference). */
  render(httpsPort?: number, edit?: (raw: Record<string, any>) => void): string;
}

export interface HostOptions {
  /** Directory the config lives in (default: a fresh temp dir). */
  configDir?: string;
  /** Override the reload command (`$PID` is the pid file path). */
  reloadCommand?: (pidFile: string) => string;
  verifyTimeoutSeconds?: number;
  lockTimeoutSeconds?: number;
  stats?: boolean;
  restoreOverHandEdits?: boolean;
}

/** Settings for an LB on LB_ADDR:httpPort/httpsPort with the node on NODE_ADDR:nodePorts. */
export function lbHost(httpPort: number, nodePorts: { http: number; https: number }, o: HostOptions = {}): LbHost {
  const dir = o.configDir ?? tempDir("push");
  const cfgPath = `${dir}/haproxy.cfg`;
  const pidFile = `${tempDir("pid")}/haproxy.pid`;
  const raw = (httpsPort: number, edit?: (r: Record<string, any>) => void) => {
    const r = devRaw();
    r.nodes = [{ name: "node-1", address: NODE_ADDR }];
    r.nodePorts = nodePorts;
    r.haproxy = { bindAddresses: [LB_ADDR], frontendPorts: { http: httpPort, https: httpsPort }, maxconn: 1000, ...(o.stats ? { stats: { enabled: true, address: LB_ADDR, port: httpPort + 9 } } : {}) };
    r.loadBalancers[0] = {
      ...r.loadBalancers[0],
      configPath: cfgPath,
      pidFile,
      reloadCommand: o.reloadCommand?.(pidFile) ?? `kill -USR2 "$(cat ${pidFile})"`,
    };
    r.push = { verifyTimeoutSeconds: o.verifyTimeoutSeconds ?? 10, lockTimeoutSeconds: o.lockTimeoutSeconds ?? 30, restoreOverHandEdits: o.restoreOverHandEdits ?? false };
    edit?.(r);
    return r;
  };
  const settings = settingsOf(raw(httpPort + 1));
  return {
    dir,
    settings,
    params: haproxyPushParams(settings, settings.loadBalancers[0]),
    cfgPath,
    pidFile,
    httpPort,
    master: 0,
    render: (httpsPort = httpPort + 1, edit) => {
      const s = settingsOf(raw(httpsPort, edit));
      return renderHaproxyConfig(s, s.loadBalancers[0], o.stats ? { statsPassword: "stats-secret" } : undefined);
    },
  };
}

/** Writes `config` and starts haproxy (master-worker) on it; returns the master's pid. */
export function bootHaproxy(h: LbHost, config: string): number {
  writeFileSync(h.cfgPath, config);
  h.master = startHaproxy(h.cfgPath, h.pidFile);
  return h.master;
}

/** The owner of the test pushes: stack "dev" of the project, resource lb-1-push (pushOwner). */
export const TEST_OWNER = "ingress-haproxy:dev:lb-1-push";
export const input = (content: string, extra: Partial<PushInput> = {}): PushInput => ({ content, digestKey: TEST_DIGEST_KEY, owner: TEST_OWNER, ...extra });

export function pushOf(h: LbHost, content: string, extra: Partial<PushInput> = {}): RemoteInvocation {
  return pushInvocation(h.params, input(content, extra), "ingress-haproxy-push");
}

export function restoreOf(h: LbHost, content: string, extra: Partial<PushInput> = {}): RemoteInvocation {
  return restoreInvocation(h.settings, h.params, input(content, extra), "ingress-haproxy-restore");
}

/** Pause hooks of push.sh (HOOK_DIR): pause at a step, wait until the push is there, release. */
export class Hooks {
  readonly dir = tempDir("hooks");
  pause(step: string): void {
    writeFileSync(`${this.dir}/pause-${step}`, "");
  }
  /** Waits until the push reached `step`; returns [push pid, guard pid]. */
  async reached(step: string, timeoutMs = 30_000): Promise<[number, number]> {
    const at = `${this.dir}/at-${step}`;
    const text = await waitFor(`the push at ${step}`, () => existsSync(at) && readFileSync(at, "utf8").includes("\n") && readFileSync(at, "utf8"), timeoutMs);
    const [pid, guard] = text.trim().split(" ").map(Number);
    return [pid, guard || 0];
  }
  release(step: string): void {
    if (existsSync(`${this.dir}/pause-${step}`)) unlinkSync(`${this.dir}/pause-${step}`);
  }
  reset(): void {
    for (const f of spawnSync("ls", [this.dir], { encoding: "utf8" }).stdout.split("\n").filter(Boolean)) unlinkSync(`${this.dir}/${f}`);
  }
}

/** The nearest sshd ancestor of a push's process: its session on the host (gone when the session is). */
export function sshdSessionOf(pid: number): number {
  for (let p = pid; p > 1; ) {
    const stat = readFileSync(`/proc/${p}/stat`, "utf8");
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    if (comm === "sshd" && p !== pid) return p;
    p = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  }
  throw new Error(`process ${pid} has no sshd ancestor`);
}

/**
 * The pid of the push run as `bash -c SCRIPT name` (pushInvocation's name), once it has a child named
 * `child` (e.g. "flock": it waits for the lock); undefined until then.
 */
export function pushPidNamed(name: string, child: string): number | undefined {
  for (const entry of readdirSync("/proc").filter((e) => /^[0-9]+$/.test(e))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").slice(0, -1);
    } catch {
      continue;
    }
    if (argv.length !== 4 || argv[0] !== "bash" || argv[1] !== "-c" || argv[3] !== name) continue;
    const pid = Number(entry);
    if (childrenOf(pid).some((c) => commOf(c) === child)) return pid;
  }
  return undefined;
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** Kills a push's ssh client and waits until its sshd session on the host is gone too. */
export async function loseSession(client: ChildProcess, pushPid: number): Promise<void> {
  const session = sshdSessionOf(pushPid);
  client.kill("SIGKILL");
  await waitFor("ssh client gone", () => client.exitCode !== null || client.signalCode !== null);
  await waitFor(`sshd session ${session} gone`, () => !isAlive(session), 30_000);
}

/** Waits until no push holds the host's lock (the guard may still be undoing a killed push). */
export async function lockFree(h: LbHost, timeoutMs = 30_000): Promise<void> {
  const lock = `${h.cfgPath}.lock`;
  if (!existsSync(lock)) return;
  await waitFor("the push lock to be free", () => spawnSync("flock", ["-n", lock, "true"]).status === 0, timeoutMs);
}

/** The pids listening on LB_ADDR:port (`ss`). */
export function listeners(port: number): number[] {
  const r = spawnSync("ss", ["-Hltnp", "src", `${LB_ADDR}:${port}`], { encoding: "utf8" });
  return [...new Set([...r.stdout.matchAll(/pid=([0-9]+)/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
}

/** Is the master alive with exactly one current worker that listens on every port given? */
export function servingPorts(h: LbHost, ports: number[]): boolean {
  if (!isAlive(h.master)) return false;
  const workers = childrenOf(h.master);
  return ports.every((p) => listeners(p).some((pid) => workers.includes(pid)));
}

export { stopPid };
