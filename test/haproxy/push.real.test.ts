// The push against a real master-worker HAProxy (the command run as sshd runs it, `sh -c`), for the
// behaviours the fault matrix (push-faults.real.test.ts, over real SSH) does not cover: the bind check,
// validation, the lock, keyed digests, bash without bash-5 features, first push and destroy.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { connect, createServer, type Server } from "node:net";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { pushInvocation, renderBindCheck, restoreInvocation, type PushParams } from "../../components/haproxy/push-script";
import { bootHaproxy, input, LB_ADDR, lbHost, pushOf, restoreOf, startLoad, startNginx, startNodeNginx, type LbHost } from "./push-env";
import { childrenOf, isAlive, lastLine, leftoverTemps, listenerPids, removeTempDirs, requireTools, runShell, sha256Text, stopPid, tempDir, waitFor, type RunResult } from "./real-env";

const NODE_PORTS = { http: 31811, https: 31812 };
let nextPort = 18800;
let nginx = 0;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
beforeAll(() => {
  requireTools(["haproxy", "shellcheck", "flock", "sha256sum", "ss", "ip", "nginx", "socat", "unshare"]);
  nginx = startNodeNginx(tempDir("node"), NODE_PORTS.http, NODE_PORTS.https);
});
afterAll(async () => {
  await stopPid(nginx);
  removeTempDirs();
});

/** A fresh LB host on its own ports, haproxy started on `config` (default: its dev config). */
function host(o: Parameters<typeof lbHost>[2] = {}, boot = true): LbHost {
  const port = nextPort;
  nextPort += 10;
  const h = lbHost(port, NODE_PORTS, { verifyTimeoutSeconds: 3, lockTimeoutSeconds: 1, ...o });
  if (boot) {
    bootHaproxy(h, h.render());
    cleanups.push(() => stopPid(h.master));
  }
  return h;
}

/** Runs a push or restore as sshd runs it (`sh -c`), without blocking the event loop. */
function run(inv: { command: string; stdin: string }): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", inv.command], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
    // A command may exit without reading its stdin (onDestroy leave's `echo`), as it may under sshd:
    // the write then fails with EPIPE, which is no test's outcome (seen once under two CPU burners).
    child.stdin.on("error", () => undefined);
    child.stdin.end(inv.stdin);
  });
}

const sha = (t: string) => `sha256:${sha256Text(t)}`;

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
    ["binds it cannot read are left to the reload", ["127.0.0.1:80", "unix@/run/x.sock", "fd@3", '"${ADDR}:80"', "/run/y.sock"], [], PASS],
    ["only binds it cannot read: it would serve nothing", ["unix@/run/x.sock", "fd@3"], [], "1 bind check failed: the candidate binds nothing (no TCP bind it can read)"],
  ])("%s", (_name, binds, setup, want) => expect(check(binds, setup)).toBe(want));

  it("a port held by the running haproxy (the pid in the pid file) passes", () => {
    expect(check(["127.0.0.1:8080"], HOLD, true)).toBe(PASS);
  });
});

describe("push against a real master-worker haproxy", () => {
  it("first push: validates, keeps .orig and .good, swaps, reloads, the new worker serves every bind; then unchanged", async () => {
    const h = host();
    const original = readFileSync(h.cfgPath, "utf8");
    const before = childrenOf(h.master);
    const v2 = h.render(h.httpPort + 2);
    const r = await run(pushOf(h, v2));
    expect(r.code, r.stderr).toBe(0);
    const worker = Number(/new worker (\d+) serves every bind/.exec(r.stdout)?.[1]);
    expect(r.stdout.trimEnd().split("\n")).toEqual([
      `received and validated the new haproxy.cfg (${Buffer.byteLength(v2)} bytes, ${sha(v2)})`,
      `first push: kept the original as ${h.cfgPath}.orig`,
      "staged the new haproxy.cfg; swapping it in",
      `installed ${h.cfgPath} (${sha(v2)})`,
      `reloaded haproxy: new worker ${worker} serves every bind`,
      `pushed: ${h.cfgPath} is the new verified haproxy.cfg (${sha(v2)}), generation 0`,
    ]);
    expect(before).not.toContain(worker);
    expect(listenerPids(LB_ADDR, h.httpPort)).toEqual([worker]);
    expect(listenerPids(LB_ADDR, h.httpPort + 2)).toEqual([worker]);
    expect(listenerPids(LB_ADDR, h.httpPort + 1)).toEqual([]);
    expect(readFileSync(`${h.cfgPath}.orig`, "utf8")).toBe(original);
    expect(readFileSync(`${h.cfgPath}.good`, "utf8")).toBe(v2);
    expect(leftoverTemps(h.dir)).toEqual([]);
    const again = await run(pushOf(h, v2));
    expect(again.code, again.stderr).toBe(0);
    expect(lastLine(again.stdout)).toBe(`unchanged: ${h.cfgPath} is already this verified haproxy.cfg (${sha(v2)}) and haproxy serves it; nothing to do`);
    expect(childrenOf(h.master)).toEqual([worker]);
  });

  it("unchanged is said only when the live file is the verified one: same bytes edited in by hand are pushed and verified", async () => {
    const h = host();
    const v2 = h.render(h.httpPort + 2);
    expect((await run(pushOf(h, h.render()))).code).toBe(0);
    // The live file gets the new bytes without a reload (as a lost session after the swap once left it).
    writeFileSync(h.cfgPath, v2);
    const r = await run(pushOf(h, v2));
    expect(r.code, r.stderr).toBe(0);
    expect(lastLine(r.stdout)).toBe(`pushed: ${h.cfgPath} is the new verified haproxy.cfg (${sha(v2)}), generation 0`);
    expect(listenerPids(LB_ADDR, h.httpPort + 2)).toEqual(childrenOf(h.master));
  });

  it("invalid config: validation failed, live file and workers untouched", async () => {
    const h = host();
    const live = readFileSync(h.cfgPath, "utf8");
    const workers = childrenOf(h.master);
    const r = await run(pushOf(h, "global\n  foo bar\n"));
    expect({ code: r.code, last: lastLine(r.stderr), out: r.stdout }).toEqual({
      code: 1,
      last: "validation failed: config : parsing [new haproxy.cfg:2] : unknown keyword 'foo' in 'global' section; nothing changed",
      out: "",
    });
    expect(readFileSync(h.cfgPath, "utf8")).toBe(live);
    expect(childrenOf(h.master)).toEqual(workers);
    expect(existsSync(`${h.cfgPath}.orig`)).toBe(false);
    expect(leftoverTemps(h.dir)).toEqual([]);
  });

  it("port held by another process: the bind check refuses before the reload; same worker, no failed request", async () => {
    const h = host();
    const before = childrenOf(h.master);
    const blockerPort = h.httpPort + 5;
    const blocker = startBlockingNginx(h.dir, `${LB_ADDR}:${blockerPort}`);
    const bad = h.render(blockerPort);
    const load = startLoad(h.httpPort);
    const r = await run(pushOf(h, bad));
    const counts = await load.stop();
    expect({ code: r.code, last: lastLine(r.stderr) }).toEqual({ code: 1, last: `bind check failed: port ${blockerPort} is held by nginx (pid ${blocker}); nothing changed` });
    expect(childrenOf(h.master)).toEqual(before);
    expect(listenerPids(LB_ADDR, blockerPort)).toEqual([blocker]);
    expect(counts.failed).toBe(0);
    expect(counts.ok).toBeGreaterThan(0);
  });

  it("address not on this host: the bind check refuses before the reload", async () => {
    expect(readFileSync("/proc/sys/net/ipv4/ip_nonlocal_bind", "utf8").trim(), "this test needs net.ipv4.ip_nonlocal_bind=0").toBe("0");
    const h = host();
    const before = childrenOf(h.master);
    const bad = h.render(undefined, (r) => (r.haproxy.bindAddresses = [LB_ADDR, "198.51.100.99"]));
    const r = await run(pushOf(h, bad));
    expect({ code: r.code, last: lastLine(r.stderr) }).toEqual({ code: 1, last: `bind check failed: 198.51.100.99:${h.httpPort} is not an address of this host; nothing changed` });
    expect(childrenOf(h.master)).toEqual(before);
  });

  it("counterfactual: without the bind check, the same bind failure refuses connections before the rollback (why the check exists)", async () => {
    const h = host();
    const blockerPort = h.httpPort + 5;
    const blocker: Server = await new Promise((resolve) => {
      const s = createServer().listen(blockerPort, LB_ADDR, () => resolve(s));
    });
    cleanups.push(() => new Promise<void>((res) => blocker.close(() => res())));
    const bad = h.render(blockerPort);
    const inv = pushInvocation({ ...h.params, bindCheckBeforeReload: false }, input(bad), "t-push");
    let done = false;
    const pushRun = run(inv).finally(() => (done = true));
    const codes: string[] = [];
    while (!done) codes.push(await connectOnce(LB_ADDR, h.httpPort));
    const r = await pushRun;
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toMatch(/^reload did not start a new worker within 3s; restored the last verified haproxy\.cfg \(sha256:[0-9a-f]{64}\)$/);
    // The failure the check prevents really happens here: some connections are refused.
    expect(codes.filter((c) => c === "ECONNREFUSED").length).toBeGreaterThan(0);
    // (Under heavy machine load a connect may also time out; only the refusals are asserted.)
    expect(listenerPids(LB_ADDR, h.httpPort)).toEqual(childrenOf(h.master));
  });

  it("verify proves serving: a config that binds nothing (bind check off) is not taken for a working reload (finding 2)", async () => {
    // Before: "a new child of the master, alive 1 s later" passed for a config with no listeners.
    const h = host();
    const live = readFileSync(h.cfgPath, "utf8");
    const bad = h.render(h.httpPort + 2).replace(/\n\s+bind [^\n]+/g, "");
    const r = await run(pushInvocation({ ...h.params, bindCheckBeforeReload: false }, input(bad), "t-push"));
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toMatch(/^new worker \d+ did not serve within 3s: the new haproxy\.cfg binds nothing; restored the last verified haproxy\.cfg \(sha256:[0-9a-f]{64}\)$/);
    expect(readFileSync(h.cfgPath, "utf8")).toBe(live);
    expect(listenerPids(LB_ADDR, h.httpPort)).toEqual(childrenOf(h.master));
  });

  it("lock held by another push: waits lockTimeoutSeconds, refuses, changes nothing", async () => {
    const h = host();
    const live = readFileSync(h.cfgPath, "utf8");
    const holder: ChildProcess = spawn("flock", ["--no-fork", `${h.cfgPath}.lock`, "sleep", "30"], { stdio: "ignore" });
    cleanups.push(() => stopPid(holder.pid));
    await waitFor("lock holder", () => existsSync(`${h.cfgPath}.lock`) && runShell(`flock -n ${h.cfgPath}.lock true`).code === 1);
    const r = await run(pushOf(h, h.render(h.httpPort + 2)));
    expect({ code: r.code, last: lastLine(r.stderr) }).toEqual({ code: 1, last: "lock held by another push for 1s; nothing changed" });
    // Bound from the setting (lockTimeoutSeconds 1): it did wait.
    expect(r.ms).toBeGreaterThanOrEqual(1000);
    expect(readFileSync(h.cfgPath, "utf8")).toBe(live);
  });

  it("reload command fails: restores the last verified file and reloads it", async () => {
    const h = host({ reloadCommand: (pid) => `if [ -e ${pid}.refuse-once ]; then rm ${pid}.refuse-once; echo "reload refused by test" >&2; exit 7; fi; kill -USR2 "$(cat ${pid})"` });
    const live = readFileSync(h.cfgPath, "utf8");
    writeFileSync(`${h.pidFile}.refuse-once`, "");
    const r = await run(pushOf(h, h.render(h.httpPort + 2)));
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe(`reload command failed (exit 7): reload refused by test; restored the last verified haproxy.cfg (${sha(live)})`);
    expect(readFileSync(h.cfgPath, "utf8")).toBe(live);
    expect(listenerPids(LB_ADDR, h.httpPort)).toEqual(childrenOf(h.master));
  });

  it("haproxy not running (stale pid file): refuses and changes nothing", async () => {
    const h = host({}, false);
    const live = h.render();
    writeFileSync(h.cfgPath, live);
    writeFileSync(h.pidFile, "999999\n");
    const r = await run(pushOf(h, h.render(h.httpPort + 2)));
    expect({ code: r.code, last: lastLine(r.stderr) }).toEqual({ code: 1, last: `haproxy is not running (no live master in ${h.pidFile}); start it, then push again; nothing changed` });
    expect(readFileSync(h.cfgPath, "utf8")).toBe(live);
  });

  it("stats on: every digest printed is keyed; the plain sha256 of the file (which holds the password hash) appears nowhere (finding 6)", async () => {
    const h = host({ stats: true }, false);
    bootHaproxy(h, h.render());
    cleanups.push(() => stopPid(h.master));
    const v2 = h.render(h.httpPort + 2);
    const r = await run(pushOf(h, v2));
    expect(r.code, r.stderr).toBe(0);
    expect(lastLine(r.stdout)).toMatch(/^pushed: .* \(hmac-sha256:[0-9a-f]{64}\), generation 0$/);
    const out = r.stdout + r.stderr + pushOf(h, v2).command;
    expect(out).not.toContain(createHash("sha256").update(v2).digest("hex"));
    expect(out.match(/(^|[^-])sha256:[0-9a-f]{64}/m)).toBeNull();
    expect((await run(pushOf(h, v2))).stdout).toContain("unchanged:");
  });

  it("bash without bash-5 features (no EPOCHREALTIME): four pushes in a row (finding 10)", async () => {
    const h = host();
    for (let i = 0; i < 4; i++) {
      const inv = pushOf(h, h.render(h.httpPort + 2 + (i % 2)));
      const r = await run({ command: inv.command.replace("bash -c '", "bash -c 'unset EPOCHREALTIME EPOCHSECONDS SRANDOM; "), stdin: inv.stdin });
      expect(r.code, r.stderr).toBe(0);
      expect(lastLine(r.stdout)).toMatch(/^pushed: /);
    }
  });
});

describe("destroy", () => {
  it("puts back the .orig from the first push, reloads, verifies, forgets .orig and .good", async () => {
    const h = host();
    const original = readFileSync(h.cfgPath, "utf8");
    const v2 = h.render(h.httpPort + 2);
    expect((await run(pushOf(h, v2))).code).toBe(0);
    const r = await run(restoreOf(h, v2));
    expect(r.code, r.stderr).toBe(0);
    expect(lastLine(r.stdout)).toBe(`restored the original haproxy.cfg from ${h.cfgPath}.orig (${sha(original)})`);
    expect(readFileSync(h.cfgPath, "utf8")).toBe(original);
    expect([existsSync(`${h.cfgPath}.orig`), existsSync(`${h.cfgPath}.good`)]).toEqual([false, false]);
    expect(listenerPids(LB_ADDR, h.httpPort + 1)).toEqual(childrenOf(h.master));
    const again = await run(restoreOf(h, v2));
    expect({ code: again.code, last: lastLine(again.stdout) }).toEqual({ code: 0, last: `no ${h.cfgPath}.orig here (no push recorded an original); leaving ${h.cfgPath} in place` });
  });

  it("onDestroy leave touches nothing", async () => {
    const h = lbHost(nextPort, NODE_PORTS);
    const s = { ...h.settings, push: { ...h.settings.push, onDestroy: "leave" as const } };
    writeFileSync(h.cfgPath, "x\n");
    const r = await run(restoreInvocation(s, h.params, input("x\n"), "t"));
    expect({ code: r.code, out: r.stdout }).toEqual({ code: 0, out: `push.onDestroy is leave: leaving ${h.cfgPath} in place\n` });
    expect(readFileSync(h.cfgPath, "utf8")).toBe("x\n");
  });
});

describe("generic params (as keepalived uses them)", () => {
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
      digestKind: "sha256",
      restoreOverHandEdits: false,
      takeOverFrom: "",
      ...over,
    };
  }
  const push = (p: PushParams, content: string) => run(pushInvocation(p, input(content), "t-push"));
  const destroy = (p: PushParams, content: string) => run(restoreInvocation({ push: { onDestroy: "restore" } } as never, p, input(content), "t-restore"));

  it("no file before: the first push records that; destroy says so, leaves the last config and clears the record (finding 10)", async () => {
    const dir = tempDir("generic");
    const p = params(dir);
    const r = await push(p, "ok 1\n");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toEqual([
      `received and validated the new test.conf (5 bytes, ${sha("ok 1\n")})`,
      `first push: there was no ${dir}/test.conf before (recorded in ${dir}/test.conf.orig-absent)`,
      "staged the new test.conf; swapping it in",
      `installed ${dir}/test.conf (${sha("ok 1\n")})`,
      "reloaded testd",
      `pushed: ${dir}/test.conf is the new verified test.conf (${sha("ok 1\n")}), generation 0`,
    ]);
    expect(runShell(`stat -c %a ${dir}/test.conf`).stdout.trim()).toBe("600");
    const bad = await push(p, "nope\n");
    expect({ code: bad.code, last: lastLine(bad.stderr) }).toEqual({ code: 1, last: "validation failed: not ok: nope; nothing changed" });
    const d = await destroy(p, "ok 1\n");
    expect({ code: d.code, last: lastLine(d.stdout) }).toEqual({ code: 0, last: `there was no ${dir}/test.conf before the first push; leaving the last pushed test.conf in place` });
    expect(existsSync(`${dir}/test.conf.orig-absent`)).toBe(false);
    expect(readFileSync(`${dir}/test.conf`, "utf8")).toBe("ok 1\n");
    expect(readFileSync(`${dir}/reloads`, "utf8")).toBe("reloaded\n");
  });

  it("a daemon started by the reload command does not keep the push lock", async () => {
    const dir = tempDir("generic");
    const p = params(dir, { reloadCommand: `sleep 30 > /dev/null 2>&1 & echo $! >> ${dir}/daemon.pids` });
    cleanups.push(async () => {
      for (const pid of readFileSync(`${dir}/daemon.pids`, "utf8").trim().split("\n")) await stopPid(Number(pid));
    });
    const first = await push(p, "ok 1\n");
    expect(first.code, first.stderr).toBe(0);
    expect(isAlive(Number(readFileSync(`${dir}/daemon.pids`, "utf8").trim()))).toBe(true);
    const second = await push(p, "ok 2\n");
    expect({ code: second.code, err: second.stderr }).toEqual({ code: 0, err: "" });
    expect(readFileSync(`${dir}/test.conf`, "utf8")).toBe("ok 2\n");
  });

  it("command verification that never passes: restores the last verified file", async () => {
    const dir = tempDir("generic");
    writeFileSync(`${dir}/test.conf`, "ok old\n");
    const p = params(dir, { verify: { kind: "command", command: `grep -q old ${dir}/test.conf` } });
    const r = await push(p, "ok new\n");
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe(`verify command did not succeed within 1s; restored the last verified test.conf (${sha("ok old\n")})`);
    expect(readFileSync(`${dir}/test.conf`, "utf8")).toBe("ok old\n");
    expect(readFileSync(`${dir}/test.conf.good`, "utf8")).toBe("ok old\n");
    expect(readFileSync(`${dir}/reloads`, "utf8")).toBe("reloaded\nreloaded\n");
    expect(leftoverTemps(dir)).toEqual([]);
  });
});

/** One TCP connect (closed at once): "" when it connected, else the error code. */
function connectOnce(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect({ host: address, port });
    c.setTimeout(1000, () => (c.destroy(), resolve("timeout")));
    c.on("connect", () => (c.destroy(), resolve("")));
    c.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** nginx as "another process" holding address:port. Returns its pid. */
function startBlockingNginx(dir: string, listen: string): number {
  const pid = startNginx(dir, "blocker-nginx", `listen ${listen}; return 204;`);
  cleanups.push(() => stopPid(pid));
  return pid;
}
