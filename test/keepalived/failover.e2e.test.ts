// A floating address across the netns LB pair (scripts/netns/hosts.sh) with real keepalived 2.2.7:
// unicast VRRP between lb-1 and lb-2, configs rendered and pushed exactly as the program does (the
// nonlocal-bind step, the haproxy.cfg push, then the keepalived.conf push, all over real SSH with the
// pinned host keys). Clients reach 198.51.100.100; the nodes log the clients' own addresses through
// either LB; stopping HAProxy or cutting the MASTER's cable moves the address within a measured bound,
// after which no request fails; the old MASTER coming back moves nothing (nopreempt) unless preemption
// is configured. Root only; fails (never skips) when it cannot run.
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
  sshPush, STATE_DIR, waitAllServers, waitFor, type LoadResult, type RunResult,
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

/** Watches the VIP while `ms` pass: every holder change with its time. */
async function watchHolders(ms: number): Promise<{ atMs: number; holders: string }[]> {
  const seen: { atMs: number; holders: string }[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const h = holders().join("+") || "none";
    if (seen[seen.length - 1]?.holders !== h) seen.push({ atMs: Date.now(), holders: h });
    await new Promise((r) => setTimeout(r, 20));
  }
  return seen;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const failed = (lr: LoadResult) => lr.results.filter((x) => x.status !== 200 || x.error);

function haproxyStart(lb: Lb): void {
  const e = lbEntry(c, lb);
  const r = spawnSync("ip", ["netns", "exec", namespaceOf(lb), "haproxy", "-W", "-D", "-p", e.pidFile, "-S", e.masterSocket, "-f", e.configPath], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`haproxy did not start on ${lb}: ${r.stderr}`);
}

function haproxyStop(lb: Lb): void {
  const pid = Number(readFileSync(lbEntry(c, lb).pidFile, "utf8").trim());
  process.kill(pid, "SIGTERM");
}

/** Load from client-1 to the VIP while `fault` happens 3 s in; returns timings relative to the fault. */
async function underLoad(runId: string, seconds: number, fault: () => void | Promise<void>, newHolder?: Lb) {
  const loadP = load(CLIENT.name, { target: VIP, count: 50 * seconds, rateHz: 50, concurrency: 8, runId, timeoutMs: 2000 });
  await sleep(3000);
  const t0 = Date.now();
  await fault();
  const movedAt = newHolder ? await waitHolder(newHolder, 20_000) : undefined;
  const lr = await loadP;
  const bad = failed(lr);
  const lastFailEnd = bad.length ? Math.max(...bad.map((x) => x.startMs + x.ms)) : undefined;
  return {
    lr,
    bad,
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
    const second = await pushKeepalived(s, "lb-2");
    expect(second.code, second.stderr).toBe(0);
    const watch = await watchHolders(4000);
    expect(watch.map((w) => w.holders)).toEqual(["lb-1"]);
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
    figures.haproxyStop = { moveMs: r.moveMs, outageMs: r.outageMs, sent: r.lr.sent, failed: r.bad.length, failedAfterMove: r.failedAfterMove.length };
    // Detection: fall (2) x interval (1 s) plus up to one interval; then FAULT sends priority 0 and lb-2 takes over at once.
    expect(r.moveMs).toBeLessThan(4000);
    expect(r.failedAfterMove).toEqual([]);
    const ok = runEntries(c, "ka-haproxy-stop");
    expect(new Set(ok.map((e) => e.remote_addr))).toEqual(new Set([CLIENT.address]));
    expect(new Set(ok.map((e) => e.realip_remote_addr))).toEqual(new Set([LB_ADDR["lb-1"], LB_ADDR["lb-2"]]));
    expect(accountFor(c, r.lr, CLIENT.address).problems).toEqual([]);
  });

  it("HAProxy back on lb-1 (higher priority): nopreempt keeps the address on lb-2, zero failed requests", async () => {
    const r = await underLoad("ka-lb1-back", 12, () => haproxyStart("lb-1"));
    const watch = await watchHolders(3000);
    figures.nopreemptReturn = { sent: r.lr.sent, failed: r.bad.length, holders: watch.map((w) => w.holders) };
    expect(r.bad).toEqual([]);
    expect(watch.map((w) => w.holders)).toEqual(["lb-2"]);
    await waitAllServers(lbEntry(c, "lb-1"), "UP");
  });
});

describe("4. the MASTER's cable is cut", () => {
  it("lb-2 unplugged: the address moves to lb-1 within the bound; after the move no request fails", async () => {
    // lb-2 stays unplugged until the next test plugs it back.
    const r = await underLoad("ka-link-cut", 16, () => hostsCtl("link", "lb-2", "down"), "lb-1");
    figures.linkCut = { moveMs: r.moveMs, outageMs: r.outageMs, sent: r.lr.sent, failed: r.bad.length, failedAfterMove: r.failedAfterMove.length };
    // Detection: 3 missed adverts (3 x 1 s) plus skew ((256 - 150) / 256 s).
    expect(r.moveMs).toBeLessThan(5000);
    expect(r.failedAfterMove).toEqual([]);
    const ok = runEntries(c, "ka-link-cut");
    expect(new Set(ok.map((e) => e.remote_addr))).toEqual(new Set([CLIENT.address]));
  });

  it("lb-2 plugged back: it stays BACKUP, the address stays on lb-1, zero failed requests", async () => {
    const r = await underLoad("ka-lb2-back", 12, () => hostsCtl("link", "lb-2", "up"));
    const watch = await watchHolders(3000);
    figures.linkBack = { sent: r.lr.sent, failed: r.bad.length, holders: watch.map((w) => w.holders) };
    expect(r.bad).toEqual([]);
    expect(watch.map((w) => w.holders)).toEqual(["lb-1"]);
  });
});

describe("5. with preempt: true the higher priority takes the address back", () => {
  it("lb-1 fails over to lb-2, comes back, and takes the address back (a second, planned move)", async () => {
    hostsCtl("link", "lb-2", "up");
    const pre = keepalivedSettings({ preempt: true });
    for (const lb of LBS) {
      const r = await pushKeepalived(pre, lb);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`reloaded keepalived on ${lb}`);
    }
    // The reload (SIGHUP) keeps the address where it is.
    expect((await watchHolders(3000)).map((w) => w.holders)).toEqual(["lb-1"]);
    const away = await underLoad("ka-preempt-away", 12, () => haproxyStop("lb-1"), "lb-2");
    expect(away.failedAfterMove).toEqual([]);
    const back = await underLoad("ka-preempt-back", 14, () => haproxyStart("lb-1"), "lb-1");
    figures.preempt = {
      away: { moveMs: away.moveMs, outageMs: away.outageMs, failed: away.bad.length },
      back: { moveMs: back.moveMs, outageMs: back.outageMs, failed: back.bad.length, failedAfterMove: back.failedAfterMove.length },
    };
    expect(back.failedAfterMove).toEqual([]);
    expect(holders()).toEqual(["lb-1"]);
  });
});

describe("6. the default: HAProxy on the wildcard, health check through loopback", () => {
  it("re-pushed for 0.0.0.0: stopping HAProxy on the MASTER moves the address within the bound", async () => {
    const w = keepalivedSettings({ bind: "wildcard" });
    expect(keepalivedConf(w, "lb-1")).toContain(`script "/bin/bash -c '</dev/tcp/127.0.0.1/443'"`);
    for (const lb of LBS) {
      const h = await sshPush(c, w, lb, renderHaproxyConfig(w, lbSettings(w, lb)));
      expect(h.code, `${lb}: ${h.stderr}`).toBe(0);
      const k = await pushKeepalived(w, lb);
      expect(k.code, k.stderr).toBe(0);
    }
    await waitAllServers(lbEntry(c, "lb-1"), "UP");
    expect((await watchHolders(3000)).map((x) => x.holders)).toEqual(["lb-1"]);
    const r = await underLoad("ka-wildcard-stop", 12, () => haproxyStop("lb-1"), "lb-2");
    figures.wildcardHaproxyStop = { moveMs: r.moveMs, outageMs: r.outageMs, sent: r.lr.sent, failed: r.bad.length, failedAfterMove: r.failedAfterMove.length };
    expect(r.moveMs).toBeLessThan(4000);
    expect(r.failedAfterMove).toEqual([]);
    expect(accountFor(c, r.lr, CLIENT.address).problems).toEqual([]);
  });
});

describe("7. keepalived's own log shows the state changes", () => {
  it("lb-1 entered MASTER, FAULT and BACKUP; lb-2 MASTER and BACKUP", () => {
    const log = (lb: Lb) => (existsSync(join(kaDir(lb), "keepalived.log")) ? readFileSync(join(kaDir(lb), "keepalived.log"), "utf8") : "");
    for (const state of ["Entering MASTER STATE", "Entering FAULT STATE", "Entering BACKUP STATE"]) expect(log("lb-1")).toContain(`(ingress_haproxy) ${state}`);
    for (const state of ["Entering MASTER STATE", "Entering BACKUP STATE"]) expect(log("lb-2")).toContain(`(ingress_haproxy) ${state}`);
  });
});
