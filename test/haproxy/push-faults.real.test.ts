// The fault-injection matrix of the push (README "The push guarantee"): the program's push, over real
// SSH, against a real master-worker HAProxy serving real requests (to a real nginx node) the whole
// time. Each case injects one fault; then, for every case:
//   - the exit code and the last line say what happened (exact values);
//   - once the push (and its guard) is gone, the live file is the previous verified config or the new
//     one, verified (`.good` holds the same bytes, the journal is idle), and HAProxy serves it;
//   - a plain re-run of the push converges (the new config, verified);
//   - no request through HAProxy failed (load runs across the whole matrix).
// Faults are placed with push.sh's test seam HOOK_DIR (pause at a step, then act); the config folder
// is a small tmpfs, so "disk full" is real ENOSPC. The matrix (case × outcome) is printed at the end.
import { spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { haproxyPushParams, pushInvocation, restoreInvocation } from "../../components/haproxy/push-script";
import { keepalivedPushParams, keepalivedRunningCommand, renderKeepalivedConfig } from "../../components/keepalived/config";
import { pairSettings } from "../keepalived/cases";
import {
  bootHaproxy, Hooks, input, lastLine, lbHost, lockFree, loseSession, pushPidNamed, servingPorts, sshRun, startLoad, startNodeNginx, startSshd, stopPid,
  type LbHost, type Sshd, type SshResult,
} from "./push-env";
import { isAlive, removeTempDirs, requireTools, tempDir, waitFor } from "./real-env";

const HTTP_PORT = 18700;
const NODE_PORTS = { http: 31711, https: 31712 };
const SSH_PORT = 2711;

let sshd: Sshd;
let nginx = 0;
let h: LbHost;
let hooks: Hooks;
let mount = "";
let load: ReturnType<typeof startLoad>;
let generation = 100;
/** The config that is live and verified now, and the other variant (each differs in its https port). */
let live: string;
let other: string;
const A_PORT = HTTP_PORT + 1;
const B_PORT = HTTP_PORT + 2;
const rows: { name: string; finding: string; exit: string; last: string; live: string; rerun: string; failed: number }[] = [];

beforeAll(async () => {
  requireTools(["haproxy", "nginx", "sshd", "ssh", "ssh-keygen", "flock", "ss", "ip", "timeout", "mount"]);
  sshd = await startSshd(SSH_PORT);
  nginx = startNodeNginx(tempDir("node"), NODE_PORTS.http, NODE_PORTS.https);
  // The config folder: a small tmpfs of its own, so a full filesystem is real and touches nothing else.
  mount = tempDir("tmpfs");
  const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0755", "ihp-push-faults", mount], { encoding: "utf8" });
  if (m.status !== 0) throw new Error(`mount tmpfs: ${m.stderr}`);
  h = lbHost(HTTP_PORT, NODE_PORTS, {
    configDir: mount,
    verifyTimeoutSeconds: 4,
    // The test can make the next reload hang (a file `hang-once` beside the pid file).
    reloadCommand: (pid) => `if [ -e ${pid}.hang-once ]; then rm -f ${pid}.hang-once; sleep 600; fi; kill -USR2 "$(cat ${pid})"`,
  });
  hooks = new Hooks();
  live = h.render(A_PORT);
  other = h.render(B_PORT);
  bootHaproxy(h, live);
  // The first push takes the running file as the verified baseline.
  const first = await push(live);
  expect(first.code, first.stderr).toBe(0);
  load = startLoad(HTTP_PORT);
}, 120_000);

afterAll(async () => {
  const counts = load ? await load.stop() : undefined;
  printMatrix(counts);
  await stopPid(h?.master);
  await stopPid(nginx);
  await stopPid(sshd?.pid);
  if (mount) spawnSync("umount", [mount]);
  removeTempDirs();
});

function printMatrix(counts?: { ok: number; failed: number }): void {
  const w = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + "…" : s.padEnd(n));
  const lines = [
    `push fault matrix: ${rows.length} cases; requests through HAProxy: ${counts?.ok ?? 0} ok, ${counts?.failed ?? 0} failed`,
    `${w("case", 44)} ${w("finding", 8)} ${w("exit", 5)} ${w("live after", 11)} ${w("re-run", 10)} last line`,
    ...rows.map((r) => `${w(r.name, 44)} ${w(r.finding, 8)} ${w(r.exit, 5)} ${w(r.live, 11)} ${w(r.rerun, 10)} ${r.last}`),
  ];
  console.log(lines.join("\n"));
}

const cfg = (): string => readFileSync(h.cfgPath, "utf8");

function push(content: string, extra: Parameters<typeof input>[1] = {}, opts: Parameters<typeof sshRun>[3] = {}): Promise<SshResult> {
  generation += 10;
  const p = pushInvocation(h.params, input(content, { generation, hookDir: hooks.dir, ...extra }), "ingress-haproxy-push");
  return sshRun(sshd, p.command, p.stdin, opts);
}

const httpsPortOf = (config: string) => Number(/frontend https-in\n\s+bind [^:]+:(\d+)/.exec(config)?.[1]);

/** After a case: the push and its guard are gone, the lock is free. */
async function settled(pids: number[]): Promise<void> {
  for (const pid of pids.filter((p) => p > 0)) await waitFor(`push process ${pid} to end`, () => !isAlive(pid), 60_000);
  await lockFree(h, 60_000);
}

type Expect = { exit: number | "killed" | "lost"; last: string | RegExp; live: "prev" | "next" };

/**
 * Runs one case: `act` performs the push with its fault and returns the result and the pids to wait
 * for. Checks the outcome, that HAProxy serves the live file, and that a plain re-run converges.
 */
async function matrixCase(name: string, finding: string, next: string, act: () => Promise<{ r: SshResult; pids: number[] }>, want: Expect): Promise<void> {
  const prev = live;
  const failedBefore = load.counts.failed;
  const { r, pids } = await act();
  await settled(pids);
  hooks.reset();
  const exit = r.signal ? "lost" : r.code === 137 || r.code === 255 ? "killed" : r.code;
  const last = lastLine(r.code === 0 ? r.stdout : r.stderr);
  const nowLive = cfg();
  const which = nowLive === prev ? "prev" : nowLive === next ? "next" : "OTHER";
  const row = { name, finding, exit: String(exit), last, live: which === "prev" ? "previous" : which === "next" ? "new" : "OTHER", rerun: "", failed: 0 };
  rows.push(row);
  expect({ exit, which }, `${name}: ${r.stderr}`).toEqual({ exit: want.exit, which: want.live });
  if (want.exit !== "lost" && want.exit !== "killed") {
    if (typeof want.last === "string") expect(last).toBe(want.last);
    else expect(last).toMatch(want.last);
  }
  // Verified: .good is the live file, the journal idle, the new workers serve its ports.
  expect(readFileSync(`${h.cfgPath}.good`, "utf8") === nowLive, `${name}: .good is the live file`).toBe(true);
  expect(readFileSync(`${h.cfgPath}.journal`, "utf8").split(" ")[0]).toBe("idle");
  expect(servingPorts(h, [HTTP_PORT, httpsPortOf(nowLive)]), `${name}: haproxy serves the live file`).toBe(true);
  // A plain re-run converges.
  const again = await push(next, { hookDir: "" });
  row.rerun = again.code === 0 ? (lastLine(again.stdout).split(":")[0] ?? "") : `exit ${again.code}`;
  expect(again.code, `${name} re-run: ${again.stderr}`).toBe(0);
  expect(lastLine(again.stdout)).toMatch(/^(pushed|unchanged): /);
  expect(cfg()).toBe(next);
  expect(servingPorts(h, [HTTP_PORT, httpsPortOf(next)])).toBe(true);
  live = next;
  if (prev !== next) other = prev;
  row.failed = load.counts.failed - failedBefore;
  expect(load.counts.errors.slice(0, 5), `${name}: requests failed`).toEqual([]);
}

/** Pushes `next` paused at `step`, applies `fault` there, releases; returns the result. */
async function pausedPush(next: string, step: string, fault: (pid: number, guard: number, client: ChildProcess) => void | Promise<void>, extra: Parameters<typeof input>[1] = {}) {
  hooks.pause(step);
  let client: ChildProcess | undefined;
  const run = push(next, extra, { onSpawn: (c) => (client = c) });
  const [pid, guard] = await hooks.reached(step);
  await fault(pid, guard, client!);
  hooks.release(step);
  const r = await run;
  return { r, pids: [pid, guard] };
}

const kill = (pid: number, sig: NodeJS.Signals) => {
  if (pid > 0 && isAlive(pid)) process.kill(pid, sig);
};

const BEFORE_SWAP = ["received", "locked", "staged"];
const AFTER_SWAP = ["swapped", "reloading", "verifying"];
const pushed = (next: string) => new RegExp(`^pushed: ${h.cfgPath.replace(/[.]/g, "\\.")} is the new verified haproxy\\.cfg \\(sha256:[0-9a-f]{64}\\), generation \\d+$`);

describe("signals and lost sessions at each step", () => {
  for (const step of [...BEFORE_SWAP, ...AFTER_SWAP, "verified"]) {
    const before = BEFORE_SWAP.includes(step);
    it(`SIGKILL at ${step}: the guard ${before ? "finds nothing to undo" : step === "verified" ? "finishes the commit" : "puts back the last verified config"}`, async () => {
      const next = other;
      await matrixCase(`SIGKILL at ${step}`, "3", next, () => pausedPush(next, step, (pid) => kill(pid, "SIGKILL")), { exit: "killed", last: "", live: step === "verified" ? "next" : "prev" });
    });
    // SIGTERM takes SIGHUP's path (one trap): checked at one step, in the verify wait.
    for (const sig of step === "verifying" ? (["SIGHUP", "SIGTERM"] as const) : (["SIGHUP"] as const)) {
      it(`${sig} at ${step}`, async () => {
        const next = other;
        const want: Expect = before
          ? { exit: 1, last: `interrupted by ${sig} before the swap; nothing changed`, live: "prev" }
          : step === "verified"
            ? { exit: 0, last: `interrupted by ${sig} after the new haproxy.cfg was verified; recorded it as verified`, live: "next" }
            : { exit: 2, last: `interrupted by ${sig} after the swap; restored the last verified haproxy.cfg`, live: "prev" };
        await matrixCase(`${sig} at ${step}`, "3", next, () => pausedPush(next, step, (pid) => kill(pid, sig)), want);
      });
    }
    it(`SIGPIPE at ${step}: ignored, the push completes`, async () => {
      const next = other;
      await matrixCase(`SIGPIPE at ${step}`, "3", next, () => pausedPush(next, step, (pid) => kill(pid, "SIGPIPE")), { exit: 0, last: pushed(next), live: "next" });
    });
    // Before the swap a push without its session installs nothing (its run was cancelled or lost; a later
    // run may have pushed meanwhile); after the swap it finishes on the host.
    it(`lost session (ssh client killed, sshd session gone) at ${step}: ${before ? "nothing is installed" : "the push completes on the host"}`, async () => {
      const next = other;
      await matrixCase(`lost session at ${step}`, "3/8", next, () => pausedPush(next, step, (pid, _guard, client) => loseSession(client, pid)), {
        exit: "lost",
        last: "",
        live: before ? "prev" : "next",
      });
    });
  }
  for (const step of AFTER_SWAP) {
    it(`SIGKILL of the push and its guard at ${step}: the re-run undoes the half-done push first`, async () => {
      const next = other;
      const prev = live;
      const r = await pausedPush(next, step, (pid, guard) => {
        kill(guard, "SIGKILL");
        kill(pid, "SIGKILL");
      });
      await settled(r.pids);
      hooks.reset();
      // Nothing undid it yet: the journal says where it stopped (the verify wait is part of "reloading").
      const journaled = step === "verifying" ? "reloading" : step;
      expect(readFileSync(`${h.cfgPath}.journal`, "utf8").split(" ")[0]).toBe(journaled);
      const again = await push(prev, { hookDir: "" });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain(`recovered: a push stopped after the swap (${journaled}); restored the last verified haproxy.cfg\n`);
      expect(lastLine(again.stdout)).toMatch(/^unchanged: /);
      expect(cfg()).toBe(prev);
      await matrixCase(`SIGKILL push+guard at ${step}, re-run`, "3", next, async () => ({ r: again, pids: [] }), { exit: 0, last: /^unchanged: /, live: "prev" });
    });
  }
});

const nothingChanged = (what: string): Expect => ({ exit: 1, last: `${what}; nothing changed`, live: "prev" });

describe("truncated and corrupted input (finding 1)", () => {
  // Every line boundary of the dev stack's config, and mid-line: refused before validation. The push
  // carries the live config (its re-run is then `unchanged`, no reload): a prefix of it passes
  // `haproxy -c` for many cuts, as in the finding.
  it("at every line boundary and mid-line", async () => {
    const bytes = Buffer.from(live);
    const cuts: [string, number][] = [];
    for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 10) cuts.push([`line ${cuts.length + 1}`, i + 1]);
    cuts.push(["mid-line 3", cuts[2][1] - 5], ["mid-line 30", cuts[29][1] - 7], ["the last byte", bytes.length - 1]);
    expect(cuts.length).toBe(live.split("\n").length - 2 + 3);
    for (const [label, n] of cuts) {
      const next = live;
      expect(Buffer.byteLength(next)).toBe(bytes.length);
      await matrixCase(`truncated stdin after ${label} (${n} B)`, "1", next, async () => ({ r: await push(next, {}, { stdinBytes: n }), pids: [] }), nothingChanged(`truncated input: received ${n} of ${bytes.length} bytes`));
    }
  }, 1_800_000);
  it("empty input", async () => {
    const next = other;
    await matrixCase("empty stdin", "1", next, async () => ({ r: await push(next, {}, { stdinBytes: 0 }), pids: [] }), nothingChanged("no haproxy.cfg on stdin (empty input)"));
  });
  it("same length, one byte changed; and extra bytes", async () => {
    for (const [label, mangle] of [["one byte changed", (t: string) => t.replace("maxconn 1000", "maxconn 1001")], ["extra bytes", (t: string) => t + "# more\n"]] as const) {
      const next = other;
      const sent = mangle(next);
      const p = pushInvocation(h.params, input(next, { generation: (generation += 10) }), "ingress-haproxy-push");
      await matrixCase(`corrupted stdin: ${label}`, "1", next, async () => ({ r: await sshRun(sshd, p.command, sent), pids: [] }), {
        exit: 1,
        last: new RegExp(`^corrupted input: received ${Buffer.byteLength(sent)} bytes with sha256:[0-9a-f]{64}, expected ${Buffer.byteLength(next)} bytes with sha256:[0-9a-f]{64}; nothing changed$`),
        live: "prev",
      });
    }
  });
});

describe("a full filesystem at every write (finding 4)", () => {
  const fill = () => {
    // Fill the tmpfs: the next allocation fails with ENOSPC.
    spawnSync("dd", ["if=/dev/zero", `of=${mount}/filler`, "bs=4k"], { encoding: "utf8" });
  };
  const unfill = () => rmSync(`${mount}/filler`, { force: true });
  const refusedAt: [string, string][] = [
    ["start", "cannot write the new haproxy.cfg beside " + "TARGET (disk full?)"],
    ["write-staged", "cannot stage the rollback copy of the last verified haproxy.cfg (disk full?)"],
    ["write-rollback", "cannot stage the rollback copy of the last verified haproxy.cfg (disk full?)"],
    ["write-good-next", "cannot stage the copy of the new haproxy.cfg (disk full?)"],
  ];
  for (const [step, why] of refusedAt) {
    it(`full before ${step}: refused, nothing changed`, async () => {
      const next = other;
      await matrixCase(`disk full at ${step}`, "4", next, async () => {
        const out = await pausedPush(next, step, fill);
        unfill();
        return out;
      }, nothingChanged(why.replace("TARGET", h.cfgPath)));
    });
  }
  for (const step of ["write-orig", "write-good"]) {
    it(`full before ${step} (a first push): refused, nothing changed`, async () => {
      // A first push on this host: no .orig (and, for write-good, no .good) yet.
      rmSync(`${h.cfgPath}.orig`, { force: true });
      const keepGood = readFileSync(`${h.cfgPath}.good`);
      if (step === "write-good") rmSync(`${h.cfgPath}.good`);
      const next = other;
      const want = step === "write-orig" ? `cannot keep the original as ${h.cfgPath}.orig (disk full?)` : `cannot keep the running haproxy.cfg as ${h.cfgPath}.good (disk full?)`;
      await matrixCase(`disk full at ${step} (first push)`, "4", next, async () => {
        const out = await pausedPush(next, step, fill);
        unfill();
        if (!existsSync(`${h.cfgPath}.good`)) writeFileSync(`${h.cfgPath}.good`, keepGood);
        return out;
      }, nothingChanged(want));
    });
  }
  for (const step of ["staged", "swapped", "reloading", "verifying", "verified"]) {
    it(`full at ${step}: nothing left to allocate, the push completes`, async () => {
      const next = other;
      await matrixCase(`disk full at ${step}`, "4", next, async () => {
        const out = await pausedPush(next, step, fill);
        unfill();
        return out;
      }, { exit: 0, last: pushed(next), live: "next" });
    });
  }
});

describe("configs that pass haproxy -c and still fail (findings 2, 3, 5)", () => {
  const failsAtReload = (t: string) => t.replace(/(frontend http-in\n)/, "$1    bind unix@/nonexistent/ihp-push.sock\n");
  it("binds nothing: the bind check refuses before anything changes", async () => {
    const next = other;
    const bad = next.replace(/\n\s+bind [^\n]+/g, "");
    await matrixCase("passes -c, binds nothing", "2", next, async () => ({ r: await push(bad), pids: [] }), nothingChanged("bind check failed: the candidate binds nothing (no TCP bind it can read)"));
  });
  it("passes -c, fails at reload (a unix socket in a missing folder): restored", async () => {
    const next = other;
    await matrixCase("passes -c, fails at reload", "3", next, async () => ({ r: await push(failsAtReload(next)), pids: [] }), {
      exit: 2,
      last: /^reload did not start a new worker within 4s; restored the last verified haproxy\.cfg \(sha256:[0-9a-f]{64}\)$/,
      live: "prev",
    });
  });
  it("two failing pushes in a row: the last verified config survives both (.good is never an unverified file)", async () => {
    const next = other;
    const prev = live;
    const first = await push(failsAtReload(next));
    expect(first.code).toBe(2);
    expect(readFileSync(`${h.cfgPath}.good`, "utf8")).toBe(prev);
    await matrixCase("second failing push in a row", "5", next, async () => ({ r: await push(failsAtReload(next) + "# again\n"), pids: [] }), {
      exit: 2,
      last: /^reload did not start a new worker within 4s; restored the last verified haproxy\.cfg/,
      live: "prev",
    });
  });
  it("a reload that hangs: bounded by verifyTimeoutSeconds, restored", async () => {
    const next = other;
    await matrixCase("reload hangs", "3", next, async () => {
      writeFileSync(`${h.pidFile}.hang-once`, "");
      return { r: await push(next), pids: [] };
    }, { exit: 2, last: /^reload command did not finish within 4s; restored the last verified haproxy\.cfg \(sha256:[0-9a-f]{64}\)$/, live: "prev" });
  });
  for (const [label, fault] of [["SIGHUP", "SIGHUP"], ["SIGKILL", "SIGKILL"], ["disk full", "full"]] as const) {
    it(`${label} during the rollback of a push that fails at reload`, async () => {
      const next = other;
      const bad = failsAtReload(next);
      await matrixCase(`${label} during rollback`, "4", next, async () => {
        hooks.pause("rolling-back");
        const run = push(bad);
        const [pid, guard] = await hooks.reached("rolling-back", 60_000);
        if (fault === "full") spawnSync("dd", ["if=/dev/zero", `of=${mount}/filler`, "bs=4k"]);
        else kill(pid, fault);
        hooks.release("rolling-back");
        const r = await run;
        rmSync(`${mount}/filler`, { force: true });
        return { r, pids: [pid, guard] };
      }, fault === "SIGKILL"
        ? { exit: "killed", last: "", live: "prev" }
        : { exit: 2, last: /^reload did not start a new worker within 4s; restored the last verified haproxy\.cfg/, live: "prev" });
    });
  }
});

describe("order and identity (finding 8)", () => {
  it("concurrent pushes: the later generation waits for the lock and wins", async () => {
    const next = other;
    const older = next + "# older\n";
    await matrixCase("concurrent pushes", "8", next, async () => {
      hooks.pause("locked");
      const a = push(older);
      const [pid, guard] = await hooks.reached("locked");
      const b = push(next, { hookDir: "" });
      hooks.release("locked");
      const ra = await a;
      expect(ra.code, ra.stderr).toBe(0);
      return { r: await b, pids: [pid, guard] };
    }, { exit: 0, last: pushed(next), live: "next" });
  });
  it("reordered pushes: an older generation after a newer one is refused and says so", async () => {
    const next = other;
    const g = generation;
    const newer = await push(next);
    expect(newer.code, newer.stderr).toBe(0);
    const stale = pushInvocation(h.params, input(live + "# stale\n", { generation: g - 5 }), "ingress-haproxy-push");
    await matrixCase("reordered: older push after newer", "8", next, async () => ({ r: await sshRun(sshd, stale.command, stale.stdin), pids: [] }), {
      exit: 1,
      last: `older push: generation ${g - 5} is older than generation ${g + 10}, verified on this host; not overwriting the newer haproxy.cfg; nothing changed`,
      live: "next",
    });
    live = next;
  });
  it("a push whose session was lost while it waited for the lock does not overwrite the push that ran meanwhile", async () => {
    const next = other;
    const stale = live + "# stale: its pulumi up was cancelled while it waited for the lock\n";
    await matrixCase("lost while waiting for the lock", "8", next, async () => {
      hooks.pause("locked");
      const current = push(next);
      const [pid, guard] = await hooks.reached("locked");
      // The stale push waits for the lock held by the current one; then its session is lost.
      let client: ChildProcess | undefined;
      const p = pushInvocation(h.params, input(stale, { generation: generation + 1 }), "ihp-stale-push");
      const waiting = sshRun(sshd, p.command, p.stdin, { onSpawn: (c) => (client = c) });
      const stalePid = await waitFor("the stale push waiting for the lock", () => pushPidNamed("ihp-stale-push", "flock"));
      await loseSession(client!, stalePid);
      hooks.release("locked");
      const r = await current;
      expect(r.code, r.stderr).toBe(0);
      expect((await waiting).signal).toBe("SIGKILL");
      await waitFor("the stale push to end", () => !isAlive(stalePid), 60_000);
      return { r, pids: [pid, guard] };
    }, { exit: 0, last: pushed(next), live: "next" });
  });
  it("counterfactual: the same stale push with its session still there does overwrite (why the probe exists)", async () => {
    const next = other;
    const prev = live;
    const stale = live + "# stale\n";
    hooks.pause("locked");
    const current = push(next);
    await hooks.reached("locked");
    const p = pushInvocation(h.params, input(stale, { generation: generation + 1 }), "ihp-stale-push");
    const waiting = sshRun(sshd, p.command, p.stdin);
    await waitFor("the stale push waiting for the lock", () => pushPidNamed("ihp-stale-push", "flock"));
    hooks.release("locked");
    expect((await current).code).toBe(0);
    const r = await waiting;
    expect({ code: r.code, last: lastLine(r.stdout) }).toEqual({ code: 0, last: expect.stringMatching(pushed(stale)) });
    expect(cfg()).toBe(stale);
    hooks.reset();
    const back = await push(next, { hookDir: "" });
    expect(back.code, back.stderr).toBe(0);
    expect(cfg()).toBe(next);
    live = next;
    other = prev;
  });
  it("a second stack pushing to the same host is refused and says which stack holds it", async () => {
    const next = other;
    const staging = pushInvocation(h.params, input(next + "# staging\n", { owner: "ingress-haproxy:staging:lb-1-push", generation: (generation += 10) }), "ingress-haproxy-push");
    await matrixCase("another stack's push", "8", live, async () => ({ r: await sshRun(sshd, staging.command, staging.stdin), pids: [] }), {
      exit: 1,
      last:
        'the verified haproxy.cfg on this host was pushed by stack ingress-haproxy:dev (lb-1-push), not by this stack ingress-haproxy:staging; one host is managed by one stack: remove it from one of them, or set push.takeOverFrom: "ingress-haproxy:dev" to move it to this one; nothing changed',
      live: "prev",
    });
  });
  it("push.takeOverFrom names the stack that held the host: the push takes it over", async () => {
    const next = other;
    const takeOver = pushInvocation({ ...h.params, takeOverFrom: "ingress-haproxy:dev" }, input(next, { owner: "ingress-haproxy:staging:lb-1-push", generation: (generation += 10) }), "ingress-haproxy-push");
    const r = await sshRun(sshd, takeOver.command, takeOver.stdin);
    expect({ code: r.code, last: lastLine(r.stdout) }).toEqual({ code: 0, last: expect.stringMatching(pushed(next)) });
    expect(readFileSync(`${h.cfgPath}.journal`, "utf8").trim().split(/ +/).slice(0, 3)).toEqual(["idle", String(generation), "ingress-haproxy:staging:lb-1-push"]);
    // And back to the test's own stack the same way (the rest of the matrix pushes as dev).
    const back = pushInvocation({ ...h.params, takeOverFrom: "ingress-haproxy:staging" }, input(live, { generation: (generation += 10) }), "ingress-haproxy-push");
    const b = await sshRun(sshd, back.command, back.stdin);
    expect(b.code, b.stderr).toBe(0);
    expect(cfg()).toBe(live);
  });
  it("LB rename: the new resource pushes first, the old resource's destroy leaves the host alone", async () => {
    const next = other;
    const moved = await push(next, { owner: "ingress-haproxy:dev:ingress-lb-lb-renamed-push" });
    expect(moved.code, moved.stderr).toBe(0);
    const oldDelete = restoreInvocation(h.settings, h.params, input(next), "ingress-haproxy-restore");
    await matrixCase("LB rename: old delete after new push", "8", next, async () => ({ r: await sshRun(sshd, oldDelete.command, oldDelete.stdin), pids: [] }), {
      exit: 0,
      last: `the verified haproxy.cfg on this host was pushed by ingress-haproxy:dev:ingress-lb-lb-renamed-push, not by ingress-haproxy:dev:lb-1-push; leaving it and ${h.cfgPath}.orig in place`,
      live: "next",
    });
  });
  it("restore does not clobber a hand edit (and restores over it only when told to)", async () => {
    const prev = live;
    const edited = prev + "# edited by hand\n";
    writeFileSync(h.cfgPath, edited);
    const del = restoreInvocation(h.settings, h.params, input(prev), "ingress-haproxy-restore");
    const r = await sshRun(sshd, del.command, del.stdin);
    expect({ code: r.code, last: lastLine(r.stderr) }).toEqual({
      code: 1,
      last: `${h.cfgPath} was changed by hand since the last verified push; not restoring over it (set push.restoreOverHandEdits to restore anyway); nothing changed`,
    });
    expect(cfg()).toBe(edited);
    rows.push({ name: "restore over a hand edit", finding: "8", exit: "1", last: lastLine(r.stderr), live: "hand edit", rerun: "", failed: 0 });
    // Told to: restores the pre-first-push original (then the matrix pushes again).
    const over = lbHost(HTTP_PORT, NODE_PORTS, { configDir: mount, restoreOverHandEdits: true });
    const forced = restoreInvocation(over.settings, { ...haproxyPushParams(over.settings, over.settings.loadBalancers[0]), verify: h.params.verify, bindCheck: h.params.bindCheck, reloadCommand: h.params.reloadCommand }, input(prev), "ingress-haproxy-restore");
    const rf = await sshRun(sshd, forced.command, forced.stdin);
    expect(rf.code, rf.stderr).toBe(0);
    expect(lastLine(rf.stdout)).toMatch(/^restored the original haproxy\.cfg from /);
    expect(existsSync(`${h.cfgPath}.orig`)).toBe(false);
    // Back to a verified push for the next cases.
    const back = await push(prev);
    expect(back.code, back.stderr).toBe(0);
    live = prev;
  });
});

describe("files keep their owner, group, mode and symlink (findings 7, 10)", () => {
  it("nobody:nogroup 0640 stays so through a push, a failed push and its rollback", async () => {
    const next = other;
    chownSync(h.cfgPath, 65534, 65534);
    chmodSync(h.cfgPath, 0o640);
    const ok = await push(next);
    expect(ok.code, ok.stderr).toBe(0);
    const attrs = (p: string) => ({ uid: statSync(p).uid, gid: statSync(p).gid, mode: (statSync(p).mode & 0o777).toString(8) });
    expect(attrs(h.cfgPath)).toEqual({ uid: 65534, gid: 65534, mode: "640" });
    expect(attrs(`${h.cfgPath}.good`)).toEqual({ uid: 65534, gid: 65534, mode: "640" });
    [live, other] = [next, live];
    const back = other;
    await matrixCase("foreign owner 0640, failed push", "7", back, async () => ({ r: await push(back.replace(/(frontend http-in\n)/, "$1    bind unix@/nonexistent/x.sock\n")), pids: [] }), {
      exit: 2,
      last: /restored the last verified haproxy\.cfg/,
      live: "prev",
    });
    // The re-run installed `back` with the same owner and mode.
    expect(attrs(h.cfgPath)).toEqual({ uid: 65534, gid: 65534, mode: "640" });
    chownSync(h.cfgPath, 0, 0);
  });
  it("a symlinked path: the file it points to is replaced, the link stays", async () => {
    const linkDir = tempDir("link");
    const link = `${linkDir}/haproxy.cfg`;
    symlinkSync(h.cfgPath, link);
    const viaLink = { ...h.params, targetPath: link };
    const next = other;
    const p = pushInvocation(viaLink, input(next, { generation: (generation += 10) }), "ingress-haproxy-push");
    await matrixCase("symlinked config path", "10", next, async () => ({ r: await sshRun(sshd, p.command, p.stdin), pids: [] }), {
      exit: 0,
      last: new RegExp(`^pushed: ${link.replace(/[.]/g, "\\.")} is the new verified haproxy\\.cfg`),
      live: "next",
    });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(link, "utf8")).toBe(live);
  });
});

describe("keepalived.conf: the same push (findings 1, 3, 6, 7, 9)", () => {
  // keepalived in a throwaway network namespace with eth0 (a veth pair inside it); the push runs over
  // the same SSH, validating and reloading inside that namespace as it would on a real host.
  const NS = "ihp-push-faults-ka";
  let dir = "";
  let conf = "";
  let pid = "";
  let kaLive = "";
  let kaOther = "";
  const ns = (...args: string[]) => spawnSync("ip", ["netns", "exec", NS, ...args], { encoding: "utf8" });
  const params = () => {
    const s = pairSettings((r) => (r.keepalived.configPath = conf));
    const base = keepalivedPushParams(s, s.loadBalancers[0]);
    return {
      ...base,
      validateCommand: `ip netns exec ${NS} keepalived -t -f "$CONFIG"`,
      reloadCommand: `kill -HUP "$(cat ${pid})"`,
      verify: { kind: "keepalived-reload-file" as const, reloadMarker: `${conf}.reload`, command: keepalivedRunningCommand(pid) },
      lockTimeoutSeconds: 30,
      verifyTimeoutSeconds: 4,
    };
  };
  const render = (priority: number) => {
    const s = pairSettings((r) => {
      r.keepalived.configPath = conf;
      r.loadBalancers[0].priority = priority;
    });
    return renderKeepalivedConfig(s, s.loadBalancers[0], { vrrpPassword: "vrrp-secret" });
  };
  const kaPush = (content: string, extra: Parameters<typeof input>[1] = {}, p = params()) => {
    const inv = pushInvocation(p, input(content, { generation: (generation += 10), owner: "lb-1-keepalived-push", hookDir: hooks.dir, ...extra }), "ingress-haproxy-keepalived-push");
    return sshRun(sshd, inv.command, inv.stdin);
  };
  const kaRows = (name: string, finding: string, r: SshResult, liveNow: string) =>
    rows.push({ name: `keepalived: ${name}`, finding, exit: String(r.code), last: lastLine(r.code === 0 ? r.stdout : r.stderr), live: liveNow, rerun: "", failed: 0 });

  beforeAll(async () => {
    dir = tempDir("ka");
    conf = `${dir}/keepalived.conf`;
    pid = `${dir}/keepalived.pid`;
    spawnSync("ip", ["netns", "del", NS]);
    for (const cmd of [["netns", "add", NS], ["-n", NS, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"], ["-n", NS, "link", "set", "eth0", "up"], ["-n", NS, "link", "set", "eth1", "up"], ["-n", NS, "link", "set", "lo", "up"]]) {
      const r = spawnSync("ip", cmd, { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`ip ${cmd.join(" ")}: ${r.stderr}`);
    }
    kaLive = render(150);
    kaOther = render(140);
    writeFileSync(conf, kaLive, { mode: 0o600 });
    const r = ns("keepalived", "-f", conf, "-p", pid, "-r", `${dir}/vrrp.pid`, "-c", `${dir}/checkers.pid`, "-l");
    if (r.status !== 0) throw new Error(`keepalived: ${r.stderr}`);
    await waitFor("keepalived and its VRRP child", () => spawnSync("bash", ["-c", keepalivedRunningCommand(pid)]).status === 0);
    const first = await kaPush(kaLive);
    expect(first.code, first.stderr).toBe(0);
  });
  afterAll(async () => {
    if (existsSync(pid)) await stopPid(Number(readFileSync(pid, "utf8").trim()));
    spawnSync("ip", ["netns", "del", NS]);
  });

  it("a push proves the reload took (keepalived took its reload_file); digests are keyed", async () => {
    const r = await kaPush(kaOther);
    expect(r.code, r.stderr).toBe(0);
    expect(lastLine(r.stdout)).toMatch(/^pushed: .* is the new verified keepalived\.conf \(hmac-sha256:[0-9a-f]{64}\), generation \d+$/);
    // Finding 6: the output never holds the plain sha256 of a file with the VRRP secret.
    expect(r.stdout + r.stderr).not.toContain(createHash("sha256").update(kaOther).digest("hex"));
    expect(existsSync(`${conf}.reload`)).toBe(false);
    kaRows("push", "6,9", r, "new");
    [kaLive, kaOther] = [kaOther, kaLive];
  });
  it("a reload that does not happen (reload command exits 0, keepalived never reloads): not trusted", async () => {
    // Finding 9: before, "the parent and a child are alive" passed although nothing reloaded. Here the
    // rollback's reload does not happen either: the file is put back and the push says it needs attention.
    const r = await kaPush(kaOther, {}, { ...params(), reloadCommand: "true" });
    expect(r.code).toBe(3);
    expect(lastLine(r.stderr)).toBe(
      "keepalived did not reload within 4s (it did not take its reload marker); restoring the last verified keepalived.conf failed too (keepalived did not reload within 4s (it did not take its reload marker)): keepalived needs attention",
    );
    expect(readFileSync(conf, "utf8")).toBe(kaLive);
    kaRows("reload that does not reload", "9", r, "previous");
    // A plain re-run (working reload) finishes the rollback first, then pushes.
    const again = await kaPush(kaOther);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("recovered: a push stopped after the swap (rolling-back); restored the last verified keepalived.conf\n");
    [kaLive, kaOther] = [kaOther, kaLive];
  });
  it("truncated keepalived.conf: refused", async () => {
    const inv = pushInvocation(params(), input(kaOther, { generation: (generation += 10), owner: "lb-1-keepalived-push" }), "ingress-haproxy-keepalived-push");
    const cut = Buffer.byteLength(inv.stdin) - 20;
    const r = await sshRun(sshd, inv.command, inv.stdin, { stdinBytes: cut });
    const body = Buffer.byteLength(kaOther);
    expect({ code: r.code, last: lastLine(r.stderr) }).toEqual({ code: 1, last: `truncated input: received ${body - 20} of ${body} bytes; nothing changed` });
    expect(readFileSync(conf, "utf8")).toBe(kaLive);
    kaRows("truncated stdin", "1", r, "previous");
  });
  it("SIGKILL after the swap: the guard puts back the verified keepalived.conf and reloads it", async () => {
    hooks.pause("swapped");
    const run = kaPush(kaOther);
    const [main, guard] = await hooks.reached("swapped");
    kill(main, "SIGKILL");
    hooks.release("swapped");
    const r = await run;
    await waitFor("guard done", () => !isAlive(guard), 60_000);
    hooks.reset();
    expect(readFileSync(conf, "utf8")).toBe(kaLive);
    expect(readFileSync(`${conf}.journal`, "utf8").split(" ")[0]).toBe("idle");
    kaRows("SIGKILL after the swap", "3", r, "previous");
    const again = await kaPush(kaOther);
    expect(again.code, again.stderr).toBe(0);
    [kaLive, kaOther] = [kaOther, kaLive];
  });
  it("mode 0600 and owner stay through pushes (it holds the VRRP token)", async () => {
    chownSync(conf, 65534, 65534);
    const r = await kaPush(kaOther);
    expect(r.code, r.stderr).toBe(0);
    expect({ uid: statSync(conf).uid, mode: (statSync(conf).mode & 0o777).toString(8) }).toEqual({ uid: 65534, mode: "600" });
    kaRows("foreign owner, 0600", "7", r, "new");
    [kaLive, kaOther] = [kaOther, kaLive];
  });
  it("destroy restores the original only without hand edits", async () => {
    writeFileSync(conf, kaLive + "# hand edit\n");
    const del = restoreInvocation(pairSettings(), params(), input(kaLive, { owner: "lb-1-keepalived-push" }), "ingress-haproxy-keepalived-restore");
    const r = await sshRun(sshd, del.command, del.stdin);
    expect({ code: r.code, last: lastLine(r.stderr) }).toEqual({
      code: 1,
      last: `${conf} was changed by hand since the last verified push; not restoring over it (set push.restoreOverHandEdits to restore anyway); nothing changed`,
    });
    kaRows("destroy over a hand edit", "8", r, "hand edit");
    writeFileSync(conf, kaLive);
    const ok = await sshRun(sshd, del.command, del.stdin);
    expect(ok.code, ok.stderr).toBe(0);
    expect(lastLine(ok.stdout)).toMatch(/^restored the original keepalived\.conf from .*\.orig \(hmac-sha256:[0-9a-f]{64}\)$/);
    kaRows("destroy", "10", ok, "original");
  });
});
