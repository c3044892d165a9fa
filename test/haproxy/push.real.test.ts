// Runs the generated push and restore scripts, exactly as the component sends them (`sh -c` of the
// command string, config on stdin), against a real master-worker haproxy in a temp directory.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect, type Server } from "node:net";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { bashCommand, haproxyPushParams, pushCommand, renderPushScript, renderRestoreScript, restoreCommand, type PushParams } from "../../components/haproxy/push-script";
import type { Settings } from "../../components/settings";
import { devRaw, settingsOf } from "../fixtures/settings";
import { childrenOf, isAlive, lastLine, leftoverTemps, listenerPids, removeTempDirs, requireTools, runShell, sha256File, sha256Text, startHaproxy, stopPid, tempDir, waitFor } from "./real-env";

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

beforeAll(() => requireTools(["haproxy", "shellcheck", "flock", "sha256sum", "ss"]));
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
      for (const script of [renderPushScript(params), renderRestoreScript(params)]) {
        const path = `${env.dir}/check.sh`;
        writeFileSync(path, script);
        const r = runShell(`shellcheck --shell=bash --severity=style ${path}`);
        expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: "" });
      }
    }
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

  it("bind failure (passes -c): no new worker, rolls back, and the old config serves again from a new worker", async () => {
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

    const r = push(env, bad);
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
