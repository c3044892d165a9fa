// Runs the generated push and restore scripts, exactly as the component sends them (`sh -c` of the
// command string, config on stdin), against a real master-worker haproxy in a temp directory.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer, connect, type Server } from "node:net";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { bashCommand, haproxyPushParams, pushCommand, renderBindCheck, renderPushScript, renderRestoreScript, restoreCommand, type PushParams } from "../../components/haproxy/push-script";
import type { Settings } from "../../components/settings";
import { devRaw, settingsOf } from "../fixtures/settings";
import { childrenOf, isAlive, lastLine, leftoverTemps, listenerPids, removeTempDirs, requireTools, runShell, sha256File, sha256Text, sleep, startHaproxy, stopPid, tempDir, waitFor, type RunResult } from "./real-env";

const LB_ADDR = "127.0.3.1";
let nextPort = 18200;

interface Env {
  dir: string;
  settings: Settings;
  cfgPath: string;
  pidFile: string;
  port: number;
  master?: number;
  render(edit?: (raw: Record<string, any>) => void): string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

beforeAll(() => requireTools(["haproxy", "shellcheck", "flock", "sha256sum", "ss", "ip", "nginx", "socat", "unshare"]));
afterAll(removeTempDirs);

/** A temp dir with settings pointing into it; `render` gives a config variant for the same host. */
function makeEnv(push: Record<string, unknown> = {}, lbExtra: (dir: string) => Record<string, unknown> = () => ({})): Env {
  const dir = tempDir("push");
  const port = nextPort;
  nextPort += 10;
  const cfgPath = `${dir}/haproxy.cfg`;
  const pidFile = `${dir}/haproxy.pid`;
  const raw = (edit?: (r: Record<string, any>) => void) => {
    const r = devRaw();
    r.nodes = [{ name: "node-1", address: "127.0.3.2" }];
    r.haproxy = { bindAddresses: [LB_ADDR], frontendPorts: { http: port, https: port + 1 }, maxconn: 1000 };
    r.loadBalancers[0] = { ...r.loadBalancers[0], configPath: cfgPath, pidFile, reloadCommand: `kill -USR2 "$(cat ${pidFile})"`, ...lbExtra(dir) };
    r.push = { verifyTimeoutSeconds: 3, lockTimeoutSeconds: 1, ...push };
    edit?.(r);
    return r;
  };
  const settings = settingsOf(raw());
  return {
    dir,
    settings,
    cfgPath,
    pidFile,
    port,
    render: (edit) => {
      const s = settingsOf(raw(edit));
      return renderHaproxyConfig(s, s.loadBalancers[0]);
    },
  };
}

/** Installs `config` as the live file and starts haproxy on it. */
function boot(env: Env, config: string): number {
  writeFileSync(env.cfgPath, config);
  env.master = startHaproxy(env.cfgPath, env.pidFile);
  const master = env.master;
  cleanups.push(() => stopPid(master));
  return master;
}

function push(env: Env, config: string) {
  return runShell(pushCommand(env.settings, env.settings.loadBalancers[0]), config);
}

/** runShell without blocking the event loop, so the test can probe the frontend meanwhile. */
function runShellAsync(command: string, input = ""): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
    child.stdin.end(input);
  });
}

interface Probe {
  attempts: number;
  ok: number;
  refused: number;
  other: string[];
  /** First and last refused connect, ms from the start of the command. */
  refusedFromToMs: [number, number] | null;
}

/** One TCP connect to address:port (closed at once); resolves to the error code, or "" when it connected. */
function connectOnce(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect({ host: address, port });
    c.setTimeout(1000, () => (c.destroy(), resolve("timeout")));
    c.on("connect", () => (c.destroy(), resolve("")));
    c.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/**
 * Runs `command` (config on stdin) and connects to address:port every ~10 ms while it runs, and at
 * least `minMs` from its start (bounded: at most 1500 attempts); counts the refused connections.
 */
async function probedRun(command: string, input: string, address: string, port: number, minMs = 0): Promise<{ r: RunResult; probe: Probe }> {
  let done = false;
  const t0 = Date.now();
  const run = runShellAsync(command, input).finally(() => (done = true));
  const probe: Probe = { attempts: 0, ok: 0, refused: 0, other: [], refusedFromToMs: null };
  while ((!done || Date.now() - t0 < minMs) && probe.attempts < 1500) {
    const code = await connectOnce(address, port);
    probe.attempts++;
    if (code === "") probe.ok++;
    else if (code === "ECONNREFUSED") {
      probe.refused++;
      const at = Date.now() - t0;
      probe.refusedFromToMs = [probe.refusedFromToMs?.[0] ?? at, at];
    }
    else probe.other.push(code);
    await sleep(10);
  }
  return { r: await run, probe };
}

/** nginx as "another process" holding address:port (one process: master_process off). Returns its pid. */
function startBlockingNginx(dir: string, listen: string): number {
  const conf = `${dir}/blocker-nginx.conf`;
  writeFileSync(
    conf,
    `master_process off;
pid ${dir}/blocker-nginx.pid;
error_log ${dir}/blocker-nginx-error.log;
events { worker_connections 16; }
http {
  access_log off;
  client_body_temp_path ${dir}/t1; proxy_temp_path ${dir}/t2; fastcgi_temp_path ${dir}/t3; uwsgi_temp_path ${dir}/t4; scgi_temp_path ${dir}/t5;
  server { listen ${listen}; return 204; }
}
`,
  );
  const r = spawnSync("nginx", ["-c", conf, "-p", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`nginx did not start: ${r.stderr}`);
  const pid = Number(readFileSync(`${dir}/blocker-nginx.pid`, "utf8").trim());
  cleanups.push(() => stopPid(pid));
  return pid;
}

const v2 = (r: Record<string, any>) => (r.haproxy.timeouts = { clientMs: 61000 });

async function serving(env: Env): Promise<number[]> {
  // The frontend answers, and which pids hold its listening socket.
  await new Promise<void>((resolve, reject) => {
    const c = connect({ host: LB_ADDR, port: env.port }, () => (c.destroy(), resolve()));
    c.on("error", reject);
  });
  return listenerPids(LB_ADDR, env.port);
}

describe("rendered scripts pass shellcheck", () => {
  it("push, restore and the helper commands, for default and non-default settings", () => {
    const env = makeEnv();
    const s = settingsOf({ ...devRaw(), haproxy: { stats: { enabled: true } }, push: { onDestroy: "restore" } });
    for (const params of [haproxyPushParams(env.settings, env.settings.loadBalancers[0]), haproxyPushParams(s, s.loadBalancers[0])]) {
      // The bind check runs as `bash -c` inside the push script: check its text on its own too.
      for (const script of [renderPushScript(params), renderRestoreScript(params), params.preReloadCheck!]) {
        const path = `${env.dir}/check.sh`;
        writeFileSync(path, script);
        const r = runShell(`shellcheck --shell=bash --severity=style ${path}`);
        expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: "" });
      }
    }
  });
});

describe("the bind check alone, in a throwaway network namespace (unshare -n)", () => {
  // A listener held by socat on 127.0.0.1:8080 (its pid in $HOLDER), when a case asks for it.
  const HOLD = [
    "socat TCP-LISTEN:8080,bind=127.0.0.1,reuseaddr,fork /dev/null & HOLDER=$!",
    'for _ in $(seq 100); do ss -Hltn "sport = :8080" | grep -q . && break; sleep 0.05; done',
  ];
  function check(binds: string[], setup: string[] = [], ownHolder = false): string {
    const dir = tempDir("bindcheck");
    writeFileSync(`${dir}/candidate.cfg`, `frontend f\n${binds.map((b) => `    bind ${b}\n`).join("")}    default_backend b\n`);
    writeFileSync(`${dir}/check.sh`, renderBindCheck(`${dir}/haproxy.pid`));
    const script = [
      "ip link set lo up",
      ...setup,
      ...(ownHolder ? ['echo "$HOLDER" > ' + `${dir}/haproxy.pid`] : []),
      `rc=0; out=$(CONFIG=${dir}/candidate.cfg bash ${dir}/check.sh) || rc=$?`,
      'kill $(jobs -p) 2> /dev/null || true',
      'echo "$rc $out" | sed "s/pid $HOLDER)/pid HOLDER)/"',
    ].join("\n");
    const r = spawnSync("unshare", ["-n", "bash", "-c", script], { encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toBe("");
    return r.stdout.trim();
  }
  const PASS = "0";

  it.each([
    ["wildcards in every spelling", ["0.0.0.0:80", "[::]:80 v6only", ":81", "*:82", ":::83", "ipv4@0.0.0.0:84"], [], PASS],
    ["loopback, an address routed locally (lo's 127.0.0.0/8) and ::1", ["127.0.0.1:80", "127.0.3.1:81", "[::1]:82"], [], PASS],
    ["an address not on the host", ["127.0.0.1:80", "198.51.100.99:80"], [], "1 bind check failed: 198.51.100.99:80 is not an address of this host"],
    ["... with net.ipv4.ip_nonlocal_bind=1", ["198.51.100.99:80"], ["sysctl -qw net.ipv4.ip_nonlocal_bind=1"], PASS],
    ["... once the host has it", ["198.51.100.99:80"], ["ip addr add 198.51.100.99/32 dev lo"], PASS],
    ["... or with transparent", ["198.51.100.99:80 transparent"], [], PASS],
    ["an IPv6 address not on the host", ["[2001:db8::99]:443 v6only"], [], "1 bind check failed: [2001:db8::99]:443 is not an address of this host"],
    ["... with net.ipv6.ip_nonlocal_bind=1", ["[2001:db8::99]:443"], ["sysctl -qw net.ipv6.ip_nonlocal_bind=1"], PASS],
    ["... once the host has it (written differently)", ["[2001:DB8:0::99]:443"], ["ip addr add 2001:db8::99/128 dev lo"], PASS],
    ["a port another process listens on, same address", ["127.0.0.1:8080"], HOLD, "1 bind check failed: port 8080 is held by socat (pid HOLDER)"],
    ["... under a wildcard bind", ["0.0.0.0:8080"], HOLD, "1 bind check failed: port 8080 is held by socat (pid HOLDER)"],
    ["... inside a port range", ["127.0.0.1:8075-8085"], HOLD, "1 bind check failed: port 8080 is held by socat (pid HOLDER)"],
    ["the same port on another address, or the other family", ["127.0.0.2:8080", "[::]:8080 v6only"], HOLD, PASS],
    ["binds it cannot read are left to the reload", ["unix@/run/x.sock", "fd@3", '"${ADDR}:80"', "/run/y.sock"], [], PASS],
  ])("%s", (_name, binds, setup, want) => expect(check(binds, setup)).toBe(want));

  it("a port held by the running haproxy (the pid in the pid file) passes", () => {
    expect(check(["127.0.0.1:8080"], HOLD, true)).toBe(PASS);
  });
});

describe("push against a real master-worker haproxy", () => {
  it("first push: validates, keeps .orig and .bak, swaps, reloads, a new worker serves; then a no-op", async () => {
    const env = makeEnv();
    const v1cfg = env.render();
    const master = boot(env, v1cfg);
    const oldWorkers = childrenOf(master);
    expect(oldWorkers).toHaveLength(1);
    expect(await serving(env)).toEqual(oldWorkers);

    const next = env.render(v2);
    const sha = sha256Text(next);
    const r = push(env, next);
    expect(r.code, r.stderr).toBe(0);
    const worker = Number(/new worker ([0-9]+) is serving/.exec(r.stdout)?.[1]);
    expect(r.stdout.trimEnd().split("\n")).toEqual([
      `validated new haproxy.cfg (sha256 ${sha})`,
      `first push: kept the original as ${env.cfgPath}.orig`,
      `installed ${env.cfgPath} (sha256 ${sha})`,
      `reloaded haproxy: new worker ${worker} is serving`,
      `live haproxy.cfg sha256 ${sha}`,
    ]);
    expect(oldWorkers).not.toContain(worker);
    expect(sha256File(env.cfgPath)).toBe(sha);
    expect(sha256File(`${env.cfgPath}.orig`)).toBe(sha256Text(v1cfg));
    expect(sha256File(`${env.cfgPath}.bak`)).toBe(sha256Text(v1cfg));
    expect(readFileSync(`${env.dir}/haproxy.pid`, "utf8").trim()).toBe(String(master));
    expect(await serving(env)).toEqual([worker]);
    // The old worker had no connections: it leaves.
    await waitFor("old worker to exit", () => !isAlive(oldWorkers[0]));
    expect(childrenOf(master)).toEqual([worker]);
    expect(leftoverTemps(env.dir)).toEqual([]);

    // Same bytes again: nothing happens, the same worker keeps serving.
    const again = push(env, next);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trimEnd().split("\n")).toEqual([
      `validated new haproxy.cfg (sha256 ${sha})`,
      `unchanged: ${env.cfgPath} already has these bytes and haproxy is running; nothing to do`,
      `live haproxy.cfg sha256 ${sha}`,
    ]);
    expect(childrenOf(master)).toEqual([worker]);

    // A second change: the .orig stays the pre-first-push file, .bak becomes the previous push.
    const third = env.render((r) => (r.haproxy.timeouts = { clientMs: 62000 }));
    const r3 = push(env, third);
    expect(r3.code, r3.stderr).toBe(0);
    expect(r3.stdout).not.toContain("first push");
    expect(sha256File(env.cfgPath)).toBe(sha256Text(third));
    expect(sha256File(`${env.cfgPath}.orig`)).toBe(sha256Text(v1cfg));
    expect(sha256File(`${env.cfgPath}.bak`)).toBe(sha);
  });

  it("invalid config: validation failed, live file and workers untouched", () => {
    const env = makeEnv();
    const live = env.render();
    const master = boot(env, live);
    const workers = childrenOf(master);
    const r = push(env, "global\n  foo bar\n");
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toBe("validation failed: config : parsing [new haproxy.cfg:2] : unknown keyword 'foo' in 'global' section");
    expect(r.stdout).toBe("");
    expect(sha256File(env.cfgPath)).toBe(sha256Text(live));
    expect(childrenOf(master)).toEqual(workers);
    expect(existsSync(`${env.cfgPath}.orig`)).toBe(false);
    expect(leftoverTemps(env.dir)).toEqual([]);
  });

  it("empty stdin is refused before anything else", () => {
    const env = makeEnv();
    boot(env, env.render());
    const r = push(env, "");
    expect({ code: r.code, last: lastLine(r.stderr) }).toEqual({ code: 1, last: "no haproxy.cfg on stdin (empty input); nothing changed" });
  });

  it("port held by another process: the bind check refuses before the reload; same worker, no refused connection", async () => {
    const env = makeEnv();
    const live = env.render();
    const master = boot(env, live);
    const before = childrenOf(master);
    // nginx holds the port the new config wants for http; https stays on haproxy's own port.
    const blockerPort = env.port + 5;
    const nginx = startBlockingNginx(env.dir, `${LB_ADDR}:${blockerPort}`);
    const bad = env.render((r) => (r.haproxy.frontendPorts = { http: blockerPort, https: env.port + 1 }));
    writeFileSync(`${env.dir}/bad.cfg`, bad);
    expect(runShell(`haproxy -c -f ${env.dir}/bad.cfg`).code).toBe(0);

    // Probed for 3 s: without the check, refusals start 0.2-1 s into the push and last ~2 s.
    const { r, probe } = await probedRun(pushCommand(env.settings, env.settings.loadBalancers[0]), bad, LB_ADDR, env.port, 3000);
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toBe(`bind check failed: port ${blockerPort} is held by nginx (pid ${nginx})`);
    expect(r.stdout).toBe(`validated new haproxy.cfg (sha256 ${sha256Text(bad)})\n`);
    expect(sha256File(env.cfgPath)).toBe(sha256Text(live));
    expect(existsSync(`${env.cfgPath}.orig`)).toBe(false);
    expect(existsSync(`${env.cfgPath}.bak`)).toBe(false);
    expect(childrenOf(master)).toEqual(before);
    expect(await serving(env)).toEqual(before);
    expect(listenerPids(LB_ADDR, blockerPort)).toEqual([nginx]);
    expect(probe.attempts).toBeGreaterThan(100);
    expect(probe).toEqual({ attempts: probe.attempts, ok: probe.attempts, refused: 0, other: [], refusedFromToMs: null });
    expect(leftoverTemps(env.dir)).toEqual([]);
    console.log(`bind check, port held: ${probe.attempts} connects in 3 s from the start of the ${r.ms} ms push, ${probe.refused} refused`);
  });

  it("address not on this host: the bind check refuses before the reload; same worker, no refused connection", async () => {
    expect(readFileSync("/proc/sys/net/ipv4/ip_nonlocal_bind", "utf8").trim(), "this test needs net.ipv4.ip_nonlocal_bind=0").toBe("0");
    const env = makeEnv();
    const live = env.render();
    const master = boot(env, live);
    const before = childrenOf(master);
    const bad = env.render((r) => (r.haproxy.bindAddresses = [LB_ADDR, "198.51.100.99"]));
    // Probed for 3 s: without the check, refusals start 0.2-1 s into the push and last ~2 s.
    const { r, probe } = await probedRun(pushCommand(env.settings, env.settings.loadBalancers[0]), bad, LB_ADDR, env.port, 3000);
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toBe(`bind check failed: 198.51.100.99:${env.port} is not an address of this host`);
    expect(r.stdout).toBe(`validated new haproxy.cfg (sha256 ${sha256Text(bad)})\n`);
    expect(sha256File(env.cfgPath)).toBe(sha256Text(live));
    expect(existsSync(`${env.cfgPath}.orig`)).toBe(false);
    expect(childrenOf(master)).toEqual(before);
    expect(await serving(env)).toEqual(before);
    expect(probe.attempts).toBeGreaterThan(100);
    expect(probe).toEqual({ attempts: probe.attempts, ok: probe.attempts, refused: 0, other: [], refusedFromToMs: null });
    expect(leftoverTemps(env.dir)).toEqual([]);
    console.log(`bind check, foreign address: ${probe.attempts} connects in 3 s from the start of the ${r.ms} ms push, ${probe.refused} refused`);
  });

  it("without the bind check, a bind failure (passes -c) still rolls back: no new worker, the old config serves again", async () => {
    // The rollback stays the second line of defence (a port taken between the check and the reload,
    // a bind the check cannot read). This is also the refusal window the check avoids.
    const env = makeEnv();
    const live = env.render();
    const master = boot(env, live);
    const before = childrenOf(master);
    // Something else holds the port the new config wants.
    const blockerPort = env.port + 5;
    const blocker: Server = await new Promise((resolve) => {
      const s = createServer().listen(blockerPort, LB_ADDR, () => resolve(s));
    });
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const bad = env.render((r) => (r.haproxy.frontendPorts = { http: blockerPort, https: env.port + 1 }));
    writeFileSync(`${env.dir}/bad.cfg`, bad);
    expect(runShell(`haproxy -c -f ${env.dir}/bad.cfg`).code).toBe(0);

    const { preReloadCheck: _, ...withoutCheck } = haproxyPushParams(env.settings, env.settings.loadBalancers[0]);
    const { r, probe } = await probedRun(bashCommand(renderPushScript(withoutCheck), "t-push"), bad, LB_ADDR, env.port);
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toBe("reload did not start a new worker within 3s; restored the previous haproxy.cfg");
    expect(r.stderr).toContain(`live haproxy.cfg sha256 ${sha256Text(live)}\n`);
    expect(sha256File(env.cfgPath)).toBe(sha256Text(live));
    expect(isAlive(master)).toBe(true);
    const now = await serving(env);
    expect(now).toHaveLength(1);
    expect(before).not.toContain(now[0]);
    expect(childrenOf(master)).toContain(now[0]);
    expect(listenerPids(LB_ADDR, blockerPort)).toEqual([process.pid]);
    expect(leftoverTemps(env.dir)).toEqual([]);
    // Only refusals, no other error; how many is HAProxy's business (measured: see the log line).
    expect(probe.other).toEqual([]);
    console.log(`no bind check, port held: ${probe.attempts} connects during the ${r.ms} ms push, ${probe.refused} refused (from ${probe.refusedFromToMs?.join(" to ")} ms)`);
  });

  it("lock held by another push: waits lockTimeoutSeconds, fails, changes nothing", async () => {
    const env = makeEnv();
    const live = env.render();
    const master = boot(env, live);
    const workers = childrenOf(master);
    const holder: ChildProcess = spawn("flock", ["--no-fork", `${env.cfgPath}.lock`, "sleep", "30"], { stdio: "ignore" });
    cleanups.push(() => stopPid(holder.pid));
    await waitFor("lock holder", () => existsSync(`${env.cfgPath}.lock`) && runShell(`flock -n ${env.cfgPath}.lock true`).code === 1);
    const r = push(env, env.render(v2));
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toBe("lock held by another push for 1s");
    expect(r.ms).toBeGreaterThanOrEqual(1000);
    expect(sha256File(env.cfgPath)).toBe(sha256Text(live));
    expect(childrenOf(master)).toEqual(workers);
    expect(leftoverTemps(env.dir)).toEqual([]);
  });

  it("reload command fails: restores the previous file and reloads it", async () => {
    // A reload command that refuses once, then reloads.
    const env = makeEnv({}, (dir) => ({
      reloadCommand: `if [ -e ${dir}/refuse-once ]; then rm ${dir}/refuse-once; echo "reload refused by test" >&2; exit 7; fi; kill -USR2 "$(cat ${dir}/haproxy.pid)"`,
    }));
    writeFileSync(`${env.dir}/refuse-once`, "");
    const live = env.render();
    const master = boot(env, live);
    const before = childrenOf(master);
    const r = push(env, env.render(v2));
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toBe("reload command failed (exit 7): reload refused by test; restored the previous haproxy.cfg");
    expect(sha256File(env.cfgPath)).toBe(sha256Text(live));
    expect(existsSync(`${env.dir}/refuse-once`)).toBe(false);
    const now = await serving(env);
    expect(now).toHaveLength(1);
    expect(before).not.toContain(now[0]);
  });

  it("haproxy not running (stale pid file): refuses and changes nothing", () => {
    const env = makeEnv();
    const live = env.render();
    writeFileSync(env.cfgPath, live);
    writeFileSync(env.pidFile, "999999\n");
    const r = push(env, env.render(v2));
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toBe(`haproxy is not running (no live master in ${env.pidFile}); start it, then push again; nothing changed`);
    expect(sha256File(env.cfgPath)).toBe(sha256Text(live));
    expect(existsSync(`${env.cfgPath}.orig`)).toBe(false);
  });
});

describe("restore on destroy", () => {
  it("puts back the .orig from the first push, reloads, verifies and forgets the .orig", async () => {
    const env = makeEnv();
    const original = env.render((r) => (r.haproxy.timeouts = { clientMs: 50000 }));
    const master = boot(env, original);
    expect(push(env, env.render(v2)).code).toBe(0);
    const workersAfterPush = childrenOf(master);
    const r = runShell(restoreCommand(env.settings, env.settings.loadBalancers[0]));
    expect(r.code, r.stderr).toBe(0);
    const worker = Number(/new worker ([0-9]+) is serving/.exec(r.stdout)?.[1]);
    expect(r.stdout.trimEnd().split("\n")).toEqual([
      `installed ${env.cfgPath} (sha256 ${sha256Text(original)})`,
      `reloaded haproxy: new worker ${worker} is serving`,
      `restored the original haproxy.cfg from ${env.cfgPath}.orig`,
      `live haproxy.cfg sha256 ${sha256Text(original)}`,
    ]);
    expect(workersAfterPush).not.toContain(worker);
    expect(sha256File(env.cfgPath)).toBe(sha256Text(original));
    expect(existsSync(`${env.cfgPath}.orig`)).toBe(false);
    expect(await serving(env)).toEqual([worker]);
    // A second destroy finds nothing to restore and leaves the file alone.
    const again = runShell(restoreCommand(env.settings, env.settings.loadBalancers[0]));
    expect(again.code).toBe(0);
    expect(again.stdout.trimEnd().split("\n")).toEqual([
      `no ${env.cfgPath}.orig here (no push recorded an original); leaving ${env.cfgPath} in place`,
      `live haproxy.cfg sha256 ${sha256Text(original)}`,
    ]);
  });

  it("onDestroy leave touches nothing", () => {
    const env = makeEnv({ onDestroy: "leave" });
    writeFileSync(env.cfgPath, "x\n");
    const r = runShell(restoreCommand(env.settings, env.settings.loadBalancers[0]));
    expect({ code: r.code, out: r.stdout }).toEqual({ code: 0, out: `push.onDestroy is leave: leaving ${env.cfgPath} in place\n` });
    expect(readFileSync(env.cfgPath, "utf8")).toBe("x\n");
  });
});

describe("generic params (as keepalived will use them)", () => {
  function params(dir: string, over: Partial<PushParams> = {}): PushParams {
    return {
      label: "test.conf",
      service: "testd",
      targetPath: `${dir}/test.conf`,
      validateCommand: 'grep -q "^ok" "$CONFIG" || { echo "not ok: $(head -n 1 "$CONFIG")"; exit 1; }',
      reloadCommand: `echo reloaded >> ${dir}/reloads`,
      verify: { kind: "none" },
      lockTimeoutSeconds: 1,
      verifyTimeoutSeconds: 1,
      fileMode: "0600",
      ...over,
    };
  }
  const run = (p: PushParams, script: "push" | "restore", input = "") =>
    runShell(bashCommand(script === "push" ? renderPushScript(p) : renderRestoreScript(p), `t-${script}`), input);

  it("no file before: the first push records that; restore says so and leaves the last config", () => {
    const dir = tempDir("generic");
    const p = params(dir);
    const r = run(p, "push", "ok 1\n");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toEqual([
      `validated new test.conf (sha256 ${sha256Text("ok 1\n")})`,
      `first push: there was no ${dir}/test.conf before (recorded in ${dir}/test.conf.orig-absent)`,
      `installed ${dir}/test.conf (sha256 ${sha256Text("ok 1\n")})`,
      "reloaded testd",
      `live test.conf sha256 ${sha256Text("ok 1\n")}`,
    ]);
    expect(runShell(`stat -c %a ${dir}/test.conf`).stdout.trim()).toBe("600");
    const bad = run(p, "push", "nope\n");
    expect({ code: bad.code, last: lastLine(bad.stderr) }).toEqual({ code: 1, last: "validation failed: not ok: nope" });
    const d = run(p, "restore");
    expect(d.code).toBe(0);
    expect(d.stdout.trimEnd().split("\n")).toEqual([
      `there was no ${dir}/test.conf before the first push; leaving the last pushed test.conf in place`,
      `live test.conf sha256 ${sha256Text("ok 1\n")}`,
    ]);
    expect(readFileSync(`${dir}/test.conf`, "utf8")).toBe("ok 1\n");
    expect(readFileSync(`${dir}/reloads`, "utf8")).toBe("reloaded\n");
  });

  it("a daemon started by the reload command does not keep the push lock", async () => {
    const dir = tempDir("generic");
    const p = params(dir, { reloadCommand: `sleep 30 > /dev/null 2>&1 & echo $! >> ${dir}/daemon.pids` });
    cleanups.push(async () => {
      for (const pid of readFileSync(`${dir}/daemon.pids`, "utf8").trim().split("\n")) await stopPid(Number(pid));
    });
    const first = run(p, "push", "ok 1\n");
    expect(first.code, first.stderr).toBe(0);
    const daemon = Number(readFileSync(`${dir}/daemon.pids`, "utf8").trim());
    expect(isAlive(daemon)).toBe(true);
    const second = run(p, "push", "ok 2\n");
    expect({ code: second.code, err: second.stderr }).toEqual({ code: 0, err: "" });
    expect(readFileSync(`${dir}/test.conf`, "utf8")).toBe("ok 2\n");
  });

  it("command verification that never passes: rolls back to the previous file", () => {
    const dir = tempDir("generic");
    writeFileSync(`${dir}/test.conf`, "ok old\n");
    const p = params(dir, { verify: { kind: "command", command: `grep -q old ${dir}/test.conf` } });
    const r = run(p, "push", "ok new\n");
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toBe("verify command did not succeed within 1s; restored the previous test.conf");
    expect(readFileSync(`${dir}/test.conf`, "utf8")).toBe("ok old\n");
    expect(readFileSync(`${dir}/test.conf.orig`, "utf8")).toBe("ok old\n");
    expect(readFileSync(`${dir}/reloads`, "utf8")).toBe("reloaded\nreloaded\n");
    expect(leftoverTemps(dir)).toEqual([]);
  });
});
