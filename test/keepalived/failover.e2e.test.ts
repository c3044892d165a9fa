// A floating address across the netns LB pair (scripts/netns/hosts.sh) with real keepalived 2.2.7:
// unicast VRRP between lb-1 and lb-2, configs rendered and pushed exactly as the program does (the
// nonlocal-bind step, the haproxy.cfg push, then the keepalived.conf push, all over real SSH with the
// pinned host keys). Clients reach 198.51.100.100; the nodes log the clients' own addresses through
// either LB; stopping HAProxy or cutting the MASTER's cable moves the address within the bound its
// settings imply (plus MARGIN_MS), after which no request fails; the old MASTER coming back moves nothing
// (nopreempt) unless preemption is configured. "Nothing moved" is read from keepalived's own log of
// state changes, over the window in which a BACKUP would have taken over. Root only; fails (never
// skips) when it cannot run.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { digestKey } from "../../components/haproxy/digest";
import { shellQuote } from "../../components/haproxy/push-script";
import { keepalivedPushCommand, nonlocalBindCommand, renderKeepalivedConfig } from "../../components/keepalived/config";
import { parseSettings, type LoadBalancerSettings, type Settings } from "../../components/settings";
import type { HostsContract } from "../netns/contract";
import {
  REPO, accountFor, assertTools, fileSha, hostsCtl, hostsDown, hostsUp, lbEntry, lbSettings, load, preflight, run, runEntries, sha256,
  sshPush, STATE_DIR, waitAllServers, waitFor, type HardStop, type LoadResult, type RunResult,
} from "../netns/harness";
import { namespaceOf } from "../netns/topology";

const VIP = "198.51.100.100";
const LB_ADDR = { "lb-1": "198.51.100.10", "lb-2": "198.51.100.11" } as const;
const CLIENT = { name: "client-1", address: "203.0.113.10" } as const;
const VRRP_SH = join(REPO, "test/keepalived/netns-vrrp.sh");
const VRRP_PASSWORD = "netns-vrrp-secret";
type Lb = keyof typeof LB_ADDR;
const LBS: Lb[] = ["lb-1", "lb-2"];

const figures: Record<string, unknown> = {};
let c: HostsContract;
let s: Settings;

const kaDir = (lb: string) => join(STATE_DIR, lb, "keepalived");

/** The test stack with keepalived: the contract's stack config plus priorities, per-LB paths and the VIP. */
function keepalivedSettings(over: { preempt?: boolean; bind?: "vip" | "wildcard" } = {}): Settings {
  const raw = structuredClone(c.stackConfig) as Record<string, any>;
  raw.loadBalancers = raw.loadBalancers.map((lb: Record<string, unknown>) => ({
    ...lb,
    priority: lb.name === "lb-1" ? 150 : 100,
    keepalived: {
      configPath: join(kaDir(lb.name as string), "keepalived.conf"),
      pidFile: join(kaDir(lb.name as string), "keepalived.pid"),
      reloadCommand: `IHP_NETNS_DIR=${shellQuote(STATE_DIR)} ${VRRP_SH} reload-or-start ${lb.name}`,
    },
  }));
  raw.keepalived = { virtualAddresses: [VIP], sysctlPath: join(STATE_DIR, "keepalived-nonlocal-bind.conf"), preempt: over.preempt ?? false };
  // By default HAProxy binds the floating address itself: the BACKUP needs ip_nonlocal_bind (the harder case).
  raw.haproxy = { ...raw.haproxy, bindAddresses: over.bind === "wildcard" ? ["0.0.0.0"] : [VIP] };
  return parseSettings(raw, { sshPrivateKey: true, vrrpPassword: true });
}

/** A command on an LB over real SSH (pinned host key), as @pulumi/command's remote.Command runs it. */
function ssh(lb: LoadBalancerSettings, command: string, input = ""): Promise<RunResult> {
  return run(
    "ssh",
    [
      "-i", c.ssh.privateKeyPath, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
      "-o", `UserKnownHostsFile=${c.ssh.knownHostsPath}`, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
      "-p", String(lb.sshPort), `${lb.user}@${lb.address}`, command,
    ],
    { input, timeoutMs: 120_000 },
  );
}

const keepalivedConf = (st: Settings, lb: Lb) => renderKeepalivedConfig(st, lbSettings(st, lb), { vrrpPassword: VRRP_PASSWORD });
const keepalivedPush = (st: Settings, lb: Lb, conf: string) =>
  keepalivedPushCommand(st, lbSettings(st, lb), { content: conf, digestKey: digestKey("keepalived e2e stand-in for the stack's SSH private key"), owner: `ingress-lb-${lb}-keepalived-push` });
const pushKeepalived = (st: Settings, lb: Lb) => {
  const p = keepalivedPush(st, lb, keepalivedConf(st, lb));
  return ssh(lbSettings(st, lb), p.command, p.stdin);
};

/** Which LBs hold the VIP right now (read from their namespaces). */
function holders(): Lb[] {
  return LBS.filter((lb) => {
    const r = spawnSync("ip", ["-n", namespaceOf(lb), "-4", "-o", "addr", "show", "dev", "eth0"], { encoding: "utf8" });
    return r.stdout.includes(` ${VIP}/32 `);
  });
}

async function waitHolder(lb: Lb, timeoutMs: number): Promise<number> {
  return waitFor(`${VIP} held by ${lb} alone`, async () => (holders().join() === lb ? Date.now() : undefined), timeoutMs, 20);
}

// Bounds implied by the settings (keepalived's VRRP timers, RFC 5798 section 6.1), plus MARGIN_MS
// for scheduling on a shared 2-core machine: the check forks bash, and the test sees the address
// through a process spawned per poll (1.4 s over the bound was seen at load average 23).
const MARGIN_MS = 3000;
const advertMs = (st: Settings) => st.keepalived!.advertIntervalSeconds * 1000;
/** How long a BACKUP waits after a priority-0 advert (a MASTER giving up) before it takes over. */
const skewMs = (st: Settings, lb: Lb) => ((256 - lbSettings(st, lb).priority!) / 256) * advertMs(st);
/** How long a BACKUP that hears no advert waits before it takes over. */
const masterDownMs = (st: Settings, lb: Lb) => 3 * advertMs(st) + skewMs(st, lb);
/** HAProxy stops on the MASTER: `fall` failed checks (plus up to one interval of phase), then FAULT sends priority 0. */
const haproxyStopMoveMs = (st: Settings, backup: Lb) => (st.keepalived!.healthCheck.fall + 1) * st.keepalived!.healthCheck.intervalSeconds * 1000 + skewMs(st, backup);
/**
 * HAProxy back on a preempting host: `rise` passed checks (plus phase) leave FAULT; as BACKUP it
 * discards the lower priority's adverts and takes over when its master-down timer runs out.
 */
const preemptBackMs = (st: Settings, lb: Lb) => leaveFaultMs(st) + masterDownMs(st, lb);
const leaveFaultMs = (st: Settings) => (st.keepalived!.healthCheck.rise + 1) * st.keepalived!.healthCheck.intervalSeconds * 1000;

type VrrpState = "MASTER" | "BACKUP" | "FAULT";
const kaLog = (lb: Lb) => join(kaDir(lb), "keepalived.log");
/** Where each LB's keepalived log ends now: state changes are read from here on. */
const logMark = (): Record<Lb, number> => ({ "lb-1": logSize("lb-1"), "lb-2": logSize("lb-2") });
const logSize = (lb: Lb) => (existsSync(kaLog(lb)) ? readFileSync(kaLog(lb)).length : 0);
/** The states `lb`'s keepalived entered since `mark`, in order, from its own log. */
function stateChanges(lb: Lb, mark: Record<Lb, number>): VrrpState[] {
  const text = existsSync(kaLog(lb)) ? readFileSync(kaLog(lb)).subarray(mark[lb]).toString("utf8") : "";
  return [...text.matchAll(/\(ingress_haproxy\) Entering (MASTER|BACKUP|FAULT) STATE/g)].map((m) => m[1] as VrrpState);
}
/** Waits for `lb` to log entering `state` since `mark`; returns when it was seen. */
const waitState = (lb: Lb, state: VrrpState, mark: Record<Lb, number>, timeoutMs: number) =>
  waitFor(`${lb} entering ${state}`, async () => (stateChanges(lb, mark).includes(state) ? Date.now() : undefined), timeoutMs, 20);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Lets a "nothing moves" window run out: nothing to wait for, by definition. */
const untilMs = (atMs: number) => sleep(Math.max(0, atMs - Date.now()));
const failed = (lr: LoadResult) => lr.results.filter((x) => x.status !== 200 || x.error);

function haproxyStart(lb: Lb): void {
  const e = lbEntry(c, lb);
  const r = spawnSync("ip", ["netns", "exec", namespaceOf(lb), "haproxy", "-W", "-D", "-p", e.pidFile, "-S", e.masterSocket, "-f", e.configPath], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`haproxy did not start on ${lb}: ${r.stderr}`);
}

/** A process counts as gone once it has exited, reaped or not. */
function alive(pid: number): boolean {
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8") : "";
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

/** Hard stop (SIGTERM: HAProxy closes every connection at once); resolves when master and workers are gone. */
async function haproxyStop(lb: Lb): Promise<HardStop> {
  const master = Number(readFileSync(lbEntry(c, lb).pidFile, "utf8").trim());
  const children = readFileSync(`/proc/${master}/task/${master}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  const fromMs = Date.now();
  process.kill(master, "SIGTERM");
  const toMs = await waitFor(`HAProxy on ${lb} (pids ${[master, ...children].join(", ")}) gone`, async () => ([master, ...children].some(alive) ? undefined : Date.now()), 10_000, 10);
  return { fromMs, toMs };
}

/**
 * Load from client-1 to the VIP while `fault` happens 3 s in; returns timings relative to the fault.
 * `event`, when given, is awaited right after the fault (during the load); its result is `eventAt`.
 */
async function underLoad(
  runId: string, seconds: number, fault: () => void | HardStop | Promise<HardStop>, newHolder?: Lb, event?: () => Promise<number>,
) {
  const loadP = load(CLIENT.name, { target: VIP, count: 50 * seconds, rateHz: 50, concurrency: 8, runId, timeoutMs: 2000 });
  await sleep(3000);
  const t0 = Date.now();
  const stop = (await fault()) ?? undefined;
  const movedAt = newHolder ? await waitHolder(newHolder, 20_000) : undefined;
  const eventAt = event ? await event() : undefined;
  const lr = await loadP;
  const bad = failed(lr);
  const lastFailEnd = bad.length ? Math.max(...bad.map((x) => x.startMs + x.ms)) : undefined;
  return {
    lr,
    bad,
    stop,
    eventAt,
    moveMs: movedAt === undefined ? undefined : movedAt - t0,
    /** From the fault until the last failed request ended: what a client saw. */
    outageMs: lastFailEnd === undefined ? 0 : Math.round(lastFailEnd - t0),
    failedAfterMove: movedAt === undefined ? [] : lr.results.filter((x) => x.startMs >= movedAt && (x.status !== 200 || x.error)),
  };
}

beforeAll(async () => {
  preflight();
  c = hostsUp();
  assertTools();
  for (const tool of ["keepalived", "setsid"])
    if (spawnSync("bash", ["-c", `PATH=$PATH:/usr/sbin:/sbin command -v ${tool}`]).status !== 0) throw new Error(`the keepalived netns tests need ${tool}: apt-get install -y keepalived util-linux`);
  const up = spawnSync(VRRP_SH, ["up"], { encoding: "utf8", env: { ...process.env, IHP_NETNS_DIR: STATE_DIR } });
  if (up.status !== 0) throw new Error(`netns-vrrp.sh up failed: ${up.stderr}`);
  s = keepalivedSettings();
});

afterAll(() => {
  if (c) {
    const out = join(dirname(STATE_DIR), "ihp-keepalived-figures.json");
    writeFileSync(out, JSON.stringify(figures, null, 2) + "\n");
    console.log(`keepalived figures (${out}):\n${JSON.stringify(figures, null, 2)}`);
    spawnSync(VRRP_SH, ["down"], { env: { ...process.env, IHP_NETNS_DIR: STATE_DIR } });
  }
  if (!process.env.IHP_NETNS_KEEP) hostsDown();
});

/**
 * After a reload of both hosts (pushes done when called): for as long as lb-2 would need to take over
 * without lb-1's adverts, lb-1 never left MASTER, lb-2 never became MASTER, and lb-1 holds the address.
 */
async function expectReloadMovedNothing(st: Settings, mark: Record<Lb, number>): Promise<void> {
  await sleep(masterDownMs(st, "lb-2") + MARGIN_MS);
  const changes = { "lb-1": stateChanges("lb-1", mark), "lb-2": stateChanges("lb-2", mark) };
  expect({ "lb-1 left MASTER": changes["lb-1"].filter((x) => x !== "MASTER"), "lb-2 became MASTER": changes["lb-2"].filter((x) => x === "MASTER"), holders: holders() })
    .toEqual({ "lb-1 left MASTER": [], "lb-2 became MASTER": [], holders: ["lb-1"] });
}

describe("1. the program's pushes bring up the pair", () => {
  it("HAProxy bound to the floating address is refused on a host without ip_nonlocal_bind, before the reload", async () => {
    const r = await sshPush(c, s, "lb-2", renderHaproxyConfig(s, lbSettings(s, "lb-2")));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").pop()).toBe(`bind check failed: ${VIP}:80 is not an address of this host; nothing changed`);
  });

  it("nonlocal bind on both hosts, then haproxy.cfg, then keepalived.conf (MASTER first): lb-1 holds the address", async () => {
    for (const lb of LBS) {
      const r = await ssh(lbSettings(s, lb), nonlocalBindCommand(s));
      expect({ code: r.code, out: r.stdout, err: r.stderr }).toEqual({
        code: 0, out: `net.ipv4.ip_nonlocal_bind = 1 (persisted in ${join(STATE_DIR, "keepalived-nonlocal-bind.conf")})\n`, err: "",
      });
    }
    for (const lb of LBS) {
      const r = await sshPush(c, s, lb, renderHaproxyConfig(s, lbSettings(s, lb)));
      expect(r.code, `${lb}: ${r.stderr}`).toBe(0);
      await waitAllServers(lbEntry(c, lb), "UP");
    }
    // Before keepalived nobody holds the address, yet both HAProxies listen on it.
    expect(holders()).toEqual([]);
    for (const lb of LBS) {
      const ss = spawnSync("ip", ["netns", "exec", namespaceOf(lb), "ss", "-Hltn", "sport = :443"], { encoding: "utf8" });
      expect(ss.stdout).toContain(`${VIP}:443`);
    }
    const first = await pushKeepalived(s, "lb-1");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain("started keepalived on lb-1");
    expect(first.stdout).toContain("reloaded keepalived\n");
    const t = Date.now();
    await waitHolder("lb-1", 10_000);
    figures.firstMasterMs = Date.now() - t;
    const mark = logMark();
    const second = await pushKeepalived(s, "lb-2");
    expect(second.code, second.stderr).toBe(0);
    // lb-2 starts as BACKUP; had it not heard lb-1's adverts, it would take over after its master-down interval.
    const backupAt = await waitState("lb-2", "BACKUP", mark, 10_000);
    await untilMs(backupAt + masterDownMs(s, "lb-2") + MARGIN_MS);
    expect({ "lb-1": stateChanges("lb-1", mark), "lb-2": stateChanges("lb-2", mark), holders: holders() }).toEqual({ "lb-1": [], "lb-2": ["BACKUP"], holders: ["lb-1"] });
    for (const lb of LBS) expect(fileSha(join(kaDir(lb), "keepalived.conf"))).toBe(sha256(keepalivedConf(s, lb)));
  });

  it("pushing the same keepalived.conf again is a no-op (keepalived is running with its VRRP child)", async () => {
    const r = await pushKeepalived(s, "lb-2");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`unchanged: ${join(kaDir("lb-2"), "keepalived.conf").replace(/[.]/g, "\\.")} is already this verified keepalived\\.conf \\(hmac-sha256:[0-9a-f]{64}\\) and keepalived serves it; nothing to do`));
  });

  it("a keepalived.conf naming an interface the host lacks is refused by keepalived -t; nothing changes", async () => {
    const bad = keepalivedConf(s, "lb-2").replace(/eth0/g, "eth7");
    const lb = lbSettings(s, "lb-2");
    const p = keepalivedPush(s, "lb-2", bad);
    const r = await ssh(lb, p.command, p.stdin);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").pop()).toBe("validation failed: (new keepalived.conf: Line 21) WARNING - interface eth7 for vrrp_instance ingress_haproxy doesn't exist; nothing changed");
    expect(fileSha(join(kaDir("lb-2"), "keepalived.conf"))).toBe(sha256(keepalivedConf(s, "lb-2")));
  });
});

describe("2. clients reach the floating address and keep their own address", () => {
  it("through lb-1: every node logs client-1's address; the TCP peer is lb-1's own address", async () => {
    const lr = await load(CLIENT.name, { target: VIP, count: 60, rateHz: 60, concurrency: 4, runId: "ka-via-lb1" });
    expect({ ok: lr.ok, failed: lr.failed }).toEqual({ ok: 60, failed: 0 });
    expect(accountFor(c, lr, CLIENT.address).problems).toEqual([]);
    const entries = runEntries(c, "ka-via-lb1");
    expect(new Set(entries.map((e) => e.realip_remote_addr))).toEqual(new Set([LB_ADDR["lb-1"]]));
    expect(new Set(entries.map((e) => e.node))).toEqual(new Set(["node-1", "node-2", "node-3"]));
  });
});

describe("3. HAProxy stops on the MASTER", () => {
  it("the address moves to lb-2 within the bound; after the move no request fails; nodes log the client through lb-2", async () => {
    const r = await underLoad("ka-haproxy-stop", 16, () => haproxyStop("lb-1"), "lb-2");
    const acc = accountFor(c, r.lr, CLIENT.address, { hardStop: r.stop });
    const boundMs = haproxyStopMoveMs(s, "lb-2") + MARGIN_MS;
    figures.haproxyStop = {
      moveMs: r.moveMs, boundMs, stopMs: r.stop!.toMs - r.stop!.fromMs, outageMs: r.outageMs, sent: r.lr.sent, failed: r.bad.length,
      cutInFlightAtStop: acc.cutAtStop, failedAfterMove: r.failedAfterMove.length,
    };
    expect(r.moveMs).toBeLessThanOrEqual(boundMs);
    expect(r.failedAfterMove).toEqual([]);
    const ok = runEntries(c, "ka-haproxy-stop");
    expect(new Set(ok.map((e) => e.remote_addr))).toEqual(new Set([CLIENT.address]));
    expect(new Set(ok.map((e) => e.realip_remote_addr))).toEqual(new Set([LB_ADDR["lb-1"], LB_ADDR["lb-2"]]));
    // A request the node answered while HAProxy was being stopped may be cut on its way back: judged by its times.
    expect(acc.problems).toEqual([]);
  });

  it("HAProxy back on lb-1 (higher priority): nopreempt keeps the address on lb-2, zero failed requests", async () => {
    const mark = logMark();
    // lb-1 leaves FAULT as BACKUP; preempting, it would take over at the first advert it hears.
    const r = await underLoad("ka-lb1-back", 12, () => haproxyStart("lb-1"), undefined, () => waitState("lb-1", "BACKUP", mark, leaveFaultMs(s) + MARGIN_MS));
    await untilMs(r.eventAt! + masterDownMs(s, "lb-1") + MARGIN_MS);
    const changes = { "lb-1": stateChanges("lb-1", mark), "lb-2": stateChanges("lb-2", mark), holders: holders() };
    figures.nopreemptReturn = { sent: r.lr.sent, failed: r.bad.length, ...changes };
    expect(r.bad).toEqual([]);
    expect(changes).toEqual({ "lb-1": ["BACKUP"], "lb-2": [], holders: ["lb-2"] });
    await waitAllServers(lbEntry(c, "lb-1"), "UP");
  });
});

describe("4. the MASTER's cable is cut", () => {
  it("lb-2 unplugged: the address moves to lb-1 within the bound; after the move no request fails", async () => {
    // lb-2 stays unplugged until the next test plugs it back.
    const r = await underLoad("ka-link-cut", 16, () => hostsCtl("link", "lb-2", "down"), "lb-1");
    // Detection: lb-1's master-down interval, 3 missed adverts plus its skew, from the last advert it heard.
    const boundMs = masterDownMs(s, "lb-1") + MARGIN_MS;
    figures.linkCut = { moveMs: r.moveMs, boundMs, outageMs: r.outageMs, sent: r.lr.sent, failed: r.bad.length, failedAfterMove: r.failedAfterMove.length };
    expect(r.moveMs).toBeLessThanOrEqual(boundMs);
    expect(r.failedAfterMove).toEqual([]);
    const ok = runEntries(c, "ka-link-cut");
    expect(new Set(ok.map((e) => e.remote_addr))).toEqual(new Set([CLIENT.address]));
  });

  it("lb-2 plugged back: it stays BACKUP, the address stays on lb-1, zero failed requests", async () => {
    const mark = logMark();
    // lb-2 comes back as BACKUP (from FAULT, or from MASTER on its own): lb-1 has the higher priority.
    const r = await underLoad("ka-lb2-back", 12, () => hostsCtl("link", "lb-2", "up"), undefined, () => waitState("lb-2", "BACKUP", mark, advertMs(s) + MARGIN_MS));
    await untilMs(r.eventAt! + masterDownMs(s, "lb-2") + MARGIN_MS);
    const changes = { "lb-1": stateChanges("lb-1", mark), "lb-2": stateChanges("lb-2", mark), holders: holders() };
    figures.linkBack = { sent: r.lr.sent, failed: r.bad.length, ...changes };
    expect(r.bad).toEqual([]);
    expect(changes).toEqual({ "lb-1": [], "lb-2": ["BACKUP"], holders: ["lb-1"] });
  });
});

describe("5. with preempt: true the higher priority takes the address back", () => {
  it("lb-1 fails over to lb-2, comes back, and takes the address back (a second, planned move)", async () => {
    hostsCtl("link", "lb-2", "up");
    const pre = keepalivedSettings({ preempt: true });
    const mark = logMark();
    for (const lb of LBS) {
      const r = await pushKeepalived(pre, lb);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`reloaded keepalived on ${lb}`);
    }
    await expectReloadMovedNothing(pre, mark);
    const away = await underLoad("ka-preempt-away", 12, () => haproxyStop("lb-1"), "lb-2");
    expect(away.failedAfterMove).toEqual([]);
    const back = await underLoad("ka-preempt-back", 14, () => haproxyStart("lb-1"), "lb-1");
    const backBoundMs = preemptBackMs(pre, "lb-1") + MARGIN_MS;
    figures.preempt = {
      away: { moveMs: away.moveMs, outageMs: away.outageMs, failed: away.bad.length },
      back: { moveMs: back.moveMs, boundMs: backBoundMs, outageMs: back.outageMs, failed: back.bad.length, failedAfterMove: back.failedAfterMove.length },
    };
    expect(away.moveMs).toBeLessThanOrEqual(haproxyStopMoveMs(pre, "lb-2") + MARGIN_MS);
    expect(back.moveMs).toBeLessThanOrEqual(backBoundMs);
    expect(back.failedAfterMove).toEqual([]);
    expect(holders()).toEqual(["lb-1"]);
  });
});

describe("6. the default: HAProxy on the wildcard, health check through loopback", () => {
  it("re-pushed for 0.0.0.0: stopping HAProxy on the MASTER moves the address within the bound", async () => {
    const w = keepalivedSettings({ bind: "wildcard" });
    expect(keepalivedConf(w, "lb-1")).toContain(`script "/bin/bash -c '</dev/tcp/127.0.0.1/443'"`);
    const mark = logMark();
    for (const lb of LBS) {
      const h = await sshPush(c, w, lb, renderHaproxyConfig(w, lbSettings(w, lb)));
      expect(h.code, `${lb}: ${h.stderr}`).toBe(0);
      const k = await pushKeepalived(w, lb);
      expect(k.code, k.stderr).toBe(0);
    }
    await waitAllServers(lbEntry(c, "lb-1"), "UP");
    await expectReloadMovedNothing(w, mark);
    const r = await underLoad("ka-wildcard-stop", 12, () => haproxyStop("lb-1"), "lb-2");
    const acc = accountFor(c, r.lr, CLIENT.address, { hardStop: r.stop });
    const boundMs = haproxyStopMoveMs(w, "lb-2") + MARGIN_MS;
    figures.wildcardHaproxyStop = {
      moveMs: r.moveMs, boundMs, outageMs: r.outageMs, sent: r.lr.sent, failed: r.bad.length, cutInFlightAtStop: acc.cutAtStop, failedAfterMove: r.failedAfterMove.length,
    };
    expect(r.moveMs).toBeLessThanOrEqual(boundMs);
    expect(r.failedAfterMove).toEqual([]);
    expect(acc.problems).toEqual([]);
  });
});

describe("7. keepalived's own log shows the state changes", () => {
  it("lb-1 entered MASTER, FAULT and BACKUP; lb-2 MASTER and BACKUP", () => {
    const log = (lb: Lb) => (existsSync(join(kaDir(lb), "keepalived.log")) ? readFileSync(join(kaDir(lb), "keepalived.log"), "utf8") : "");
    for (const state of ["Entering MASTER STATE", "Entering FAULT STATE", "Entering BACKUP STATE"]) expect(log("lb-1")).toContain(`(ingress_haproxy) ${state}`);
    for (const state of ["Entering MASTER STATE", "Entering BACKUP STATE"]) expect(log("lb-2")).toContain(`(ingress_haproxy) ${state}`);
  });
});
