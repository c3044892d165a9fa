// End-to-end on real hosts in network namespaces (scripts/netns/hosts.sh): clients -> HAProxy (the
// program's rendered haproxy.cfg, pushed with the program's push script over real SSH) -> nginx with
// PROXY protocol on the nodes. Runs as root; fails (never skips) when it cannot run.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { bashCommand, haproxyPushParams, pushFiles, renderPushScript } from "../../components/haproxy/push-script";
import type { Settings } from "../../components/settings";
import type { HostsContract } from "./contract";
import {
  REPO, accessLog, accountFor, assertTools, fileSha, figures, hostsCtl, hostsDown, hostsUp, lbEntry, lbSettings, load, masterCli,
  mtimeMs, NETNS_DIGEST_KEY, onHost, preflight, procInfo, rawSend, run, serverStates, sha256, sshPush, stackSettings, STATE_DIR, waitAllServers, waitFor,
} from "./harness";

const CLIENTS = { "client-1": "203.0.113.10", "client-2": "203.0.113.11" } as const;
const LB1 = "198.51.100.10";
const LB2 = "198.51.100.11";

let c: HostsContract;
let base: Settings;
const cfg = (s: Settings, lb: string) => renderHaproxyConfig(s, lbSettings(s, lb));
/** A valid variant of the base config that differs in bytes (and so triggers a real reload). */
const variant = (maxconn: number) => stackSettings(c, { haproxy: { maxconn } });

let triedUp = false;

beforeAll(async () => {
  preflight();
  triedUp = true;
  c = hostsUp();
  assertTools();
  base = stackSettings(c);
  // The first push of the real config replaces the placeholder on both LBs.
  for (const lb of ["lb-1", "lb-2"]) {
    const r = await sshPush(c, base, lb, cfg(base, lb));
    expect(r.code, `first push to ${lb}: ${r.stderr}`).toBe(0);
    expect(fileSha(lbEntry(c, lb).configPath)).toBe(sha256(cfg(base, lb)));
    await waitAllServers(lbEntry(c, lb), "UP");
  }
});

afterAll(() => {
  if (c) {
    const out = join(dirname(STATE_DIR), "ihp-netns-figures.json");
    writeFileSync(out, JSON.stringify(figures, null, 2) + "\n");
    console.log(`netns figures (${out}):\n${JSON.stringify(figures, null, 2)}`);
  }
  if (triedUp && !process.env.IHP_NETNS_KEEP) hostsDown();
});

/** curl from a client namespace; prints "<http_code> <body>". */
async function curlVia(client: string, scheme: "http" | "https", lbAddress: string, path: string, headers: string[] = []) {
  const url = scheme === "https" ? `https://ingress.test${path}` : `http://ingress.test${path}`;
  const port = scheme === "https" ? 443 : 80;
  const r = await onHost(client, "curl", [
    "-sS", "-k", "--max-time", "5", "--resolve", `ingress.test:${port}:${lbAddress}`, ...headers.flatMap((h) => ["-H", h]),
    "-w", "\n%{http_code}", url,
  ]);
  const lines = r.stdout.trimEnd().split("\n");
  const status = Number(lines.pop());
  return { code: r.code, status, body: lines.join("\n").trim(), stderr: r.stderr };
}

const logFor = (uriPrefix: string) => accessLog(c).filter((e) => e.request_uri.startsWith(uriPrefix));

describe("1. client source address over http and https (TLS passthrough)", () => {
  it.each(Object.entries(CLIENTS))("%s: every node logs the client's own address", async (client, address) => {
    let sent = 0;
    for (const [lbName, lbAddr] of [["lb-1", LB1], ["lb-2", LB2]] as const)
      for (const scheme of ["http", "https"] as const)
        for (let k = 0; k < 3; k++) {
          const path = `/s1/${client}/${lbName}/${scheme}/${k}`;
          const r = await curlVia(client, scheme, lbAddr, path);
          sent++;
          expect(r.code, r.stderr).toBe(0);
          expect(r.status).toBe(200);
          expect(r.body).toMatch(new RegExp(`^node=node-[123] remote_addr=${address.replace(/\./g, "\\.")} scheme=${scheme}$`));
        }
    const entries = logFor(`/s1/${client}/`);
    expect(entries).toHaveLength(sent);
    for (const e of entries) {
      const [, , , lbName, scheme] = e.request_uri.split("/");
      expect(e.remote_addr).toBe(address);
      expect(e.proxy_protocol_addr).toBe(address);
      // The TCP peer the node saw is the LB itself: no SNAT, no hop through another node.
      expect(e.realip_remote_addr).toBe(lbName === "lb-1" ? LB1 : LB2);
      expect(e.scheme).toBe(scheme);
      expect(e.server_port).toBe(scheme === "https" ? "30112" : "30111");
      expect(e.status).toBe("200");
    }
    // Round robin over 3 nodes, 3 requests per (LB, scheme): every node served this client.
    expect(new Set(entries.map((e) => e.node))).toEqual(new Set(["node-1", "node-2", "node-3"]));
    figures[`s1_${client}`] = { sent, logged: entries.length, failed: 0 };
  });
});

describe("2. forwarded headers from the client are not the client address", () => {
  it("X-Forwarded-For / X-Real-IP pass through as data; remote_addr stays the PROXY address", async () => {
    const spoof = ["X-Forwarded-For: 203.0.113.99", "X-Real-IP: 203.0.113.98"];
    for (const scheme of ["http", "https"] as const) {
      const r = await curlVia("client-1", scheme, LB1, `/s2/${scheme}`, spoof);
      expect(r.status).toBe(200);
      expect(r.body).toContain("remote_addr=203.0.113.10 ");
    }
    const lr = await load("client-2", {
      target: LB2, count: 30, rateHz: 60, concurrency: 4, runId: "s2-load", headers: { "X-Forwarded-For": "203.0.113.99, 198.51.100.10", "X-Real-IP": "198.51.100.11" },
    });
    expect({ sent: lr.sent, ok: lr.ok, failed: lr.failed }).toEqual({ sent: 30, ok: 30, failed: 0 });
    const acc = accountFor(c, lr, CLIENTS["client-2"]);
    expect(acc.problems).toEqual([]);
    expect(acc.logged).toBe(30);
    const entries = [...logFor("/s2/"), ...logFor("/load/s2-load/")];
    expect(entries).toHaveLength(32);
    for (const e of logFor("/s2/")) expect([e.remote_addr, e.x_forwarded_for, e.x_real_ip]).toEqual(["203.0.113.10", "203.0.113.99", "203.0.113.98"]);
    for (const e of logFor("/load/s2-load/"))
      expect([e.remote_addr, e.x_forwarded_for, e.x_real_ip]).toEqual(["203.0.113.11", "203.0.113.99, 198.51.100.10", "198.51.100.11"]);
    figures.s2 = { sent: 32, logged: entries.length, failed: 0 };
  });
});

describe("3. a PROXY header forged by a host that is not an LB", () => {
  const forged = (src: string, uri: string) =>
    `PROXY TCP4 ${src} 192.0.2.11 40000 30111\r\nGET ${uri} HTTP/1.1\r\nHost: ingress.test\r\nConnection: close\r\n\r\n`;

  it("is refused: the NodePorts drop every source but the LBs (NetworkPolicy)", async () => {
    for (const port of [30111, 30112]) {
      const r = await rawSend("client-1", "192.0.2.11", port, forged("198.51.100.10", `/s3a/${port}`), 1500);
      expect(r).toEqual({ connected: false, response: "", error: "timeout" });
    }
    const curl = await onHost("client-2", "curl", ["-sS", "--haproxy-protocol", "--max-time", "2", "http://192.0.2.12:30111/s3a/curl"]);
    expect(curl.code).toBe(28); // connect timed out: dropped, not answered
    expect(logFor("/s3a/")).toEqual([]);
  });

  it("is not trusted even if the firewall let it through (set_real_ip_from = LBs only)", async () => {
    const rule = ["-I", "IHP-NETPOL", "1", "-s", "203.0.113.10/32", "-j", "ACCEPT"];
    expect((await onHost("node-1", "iptables", rule)).code).toBe(0);
    try {
      for (const src of ["203.0.113.77", "198.51.100.10"]) {
        const r = await rawSend("client-1", "192.0.2.11", 30111, forged(src, `/s3b/${src}`), 3000);
        expect(r.connected).toBe(true);
        expect(r.response).toMatch(/^HTTP\/1\.1 200 /);
        expect(r.response).toContain("remote_addr=203.0.113.10 ");
      }
    } finally {
      expect((await onHost("node-1", "iptables", ["-D", ...rule.slice(1, 2), ...rule.slice(3)])).code).toBe(0);
    }
    const entries = logFor("/s3b/");
    expect(entries.map((e) => [e.request_uri, e.remote_addr, e.proxy_protocol_addr, e.realip_remote_addr])).toEqual([
      ["/s3b/203.0.113.77", "203.0.113.10", "203.0.113.77", "203.0.113.10"],
      ["/s3b/198.51.100.10", "203.0.113.10", "198.51.100.10", "203.0.113.10"],
    ]);
  });

  it("sent through the LB, it is just bytes after HAProxy's own header: 400, forged address nowhere", async () => {
    const before = accessLog(c).length;
    const r = await rawSend("client-2", LB1, 80, forged("203.0.113.77", "/s3c"), 3000);
    expect(r.connected).toBe(true);
    expect(r.response).toMatch(/^HTTP\/1\.1 400 /);
    const after = accessLog(c);
    // access logs of three nodes are concatenated: look at what is new
    const fresh = after.filter((e) => e.status === "400");
    expect(after.length).toBe(before + 1);
    // nginx rejects the request line before the realip phase, so $remote_addr is still the TCP peer
    // (the LB); the PROXY address HAProxy sent is the true client. The forged one appears nowhere.
    expect(fresh.map((e) => [e.request_uri, e.remote_addr, e.proxy_protocol_addr, e.realip_remote_addr])).toEqual([["", LB1, "203.0.113.11", LB1]]);
    expect(JSON.stringify(fresh)).not.toContain("203.0.113.77");
  });
});

describe("4. a node blackholed under steady load", () => {
  it("is taken out within the health-check window; no request fails after it; nothing lost", async () => {
    const lb = lbEntry(c, "lb-1");
    const hc = base.haproxy.healthCheck;
    // A blackholed node's check fails after min(inter, timeout connect); checks follow each other inter
    // apart, the first within inter of the blackhole: fall x (inter + that) until DOWN. Back UP: a check
    // in progress may still time out, then rise passing checks inter apart. MARGIN_MS: scheduling on a
    // shared 2-core machine (the test polls the master CLI through a socket every 20 ms).
    const MARGIN_MS = 1500;
    const failedCheckMs = Math.min(hc.interMs, base.haproxy.timeouts.connectMs);
    const windowMs = hc.fall * (hc.interMs + failedCheckMs) + MARGIN_MS;
    const recoveryBoundMs = failedCheckMs + (hc.rise + 1) * hc.interMs + MARGIN_MS;
    await waitAllServers(lb, "UP");
    const loadP = load("client-1", { target: LB1, count: 400, rateHz: 50, concurrency: 32, runId: "s4", timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = Date.now(); // detection is measured from before the DROP rule exists: an upper bound
    hostsCtl("blackhole", "node-2", "on");
    const tOn = Date.now();
    let downMs: Record<string, number> = {};
    try {
      downMs = await waitFor("node-2 DOWN in both backends", async () => {
        const st = await serverStates(lb);
        const now = Date.now() - t0;
        for (const k of ["http-nodeport/node-2", "https-nodeport/node-2"]) if (st[k]?.startsWith("DOWN") && downMs[k] === undefined) downMs[k] = now;
        return Object.keys(downMs).length === 2 ? { ...downMs } : undefined;
      }, 10_000, 20);
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      hostsCtl("blackhole", "node-2", "off");
    }
    const t1 = Date.now();
    const upMs = await waitFor("node-2 UP again", async () => ((await waitAllServers(lb, "UP", 200).catch(() => undefined)) ? Date.now() - t1 : undefined), 10_000, 20);
    const r = await loadP;
    const detection = Math.max(...Object.values(downMs));
    const failedAfterWindow = r.results.filter((x) => x.startMs >= t0 + windowMs && (x.status !== 200 || x.error));
    const servedByDeadNode = r.results.filter((x) => x.startMs >= tOn && x.startMs < t1 && x.node === "node-2");
    const failed = r.results.filter((x) => x.status !== 200 || x.error);
    const slow = r.results.filter((x) => x.ms > 500);
    const acc = accountFor(c, r, CLIENTS["client-1"]);
    figures.s4 = {
      interMs: hc.interMs, fall: hc.fall, rise: hc.rise, windowMs, recoveryBoundMs, detectionMs: downMs, recoveryMs: upMs,
      sent: r.sent, ok: r.ok, failed: r.failed, failedAfterWindow: failedAfterWindow.length,
      slowOver500ms: slow.length, maxLatencyMs: Math.round(Math.max(...r.results.map((x) => x.ms))), logged: acc.logged,
      failures: failed.map((x) => ({ i: x.i, atMs: x.startMs - t0, error: x.error, status: x.status })),
    };
    expect(detection).toBeLessThanOrEqual(windowMs);
    expect(upMs).toBeLessThanOrEqual(recoveryBoundMs);
    expect(failedAfterWindow).toEqual([]);
    expect(servedByDeadNode).toEqual([]);
    expect(r.sent).toBe(400);
    expect(r.ok + r.failed).toBe(400);
    expect(acc.problems).toEqual([]);
    expect(acc.logged).toBe(r.ok);
    // option redispatch + retries: even inside the window no request failed.
    expect(r.failed).toBe(0);
  });
});

describe("5. pushes under steady load", () => {
  it("several reloads through the push script over SSH drop 0 requests", async () => {
    const lb = lbEntry(c, "lb-1");
    const before = await procInfo(lb);
    const http = load("client-1", { target: LB1, count: 450, rateHz: 50, concurrency: 16, runId: "s5-http" });
    const https = load("client-2", { target: LB1, scheme: "https", count: 450, rateHz: 50, concurrency: 16, runId: "s5-https" });
    await new Promise((r) => setTimeout(r, 1000));
    const pushes: { maxconn: number; ms: number; worker: string }[] = [];
    for (const maxconn of [4001, 4002, 4003, 4096]) {
      const s = maxconn === 4096 ? base : variant(maxconn);
      const r = await sshPush(c, s, "lb-1", cfg(s, "lb-1"));
      expect(r.code, r.stderr).toBe(0);
      const m = /reloaded haproxy: new worker (\d+) serves every bind/.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      expect(fileSha(lb.configPath)).toBe(sha256(cfg(s, "lb-1")));
      pushes.push({ maxconn, ms: r.endMs - r.startMs, worker: m![1] });
    }
    const [h, s] = await Promise.all([http, https]);
    const after = await procInfo(lb);
    expect(after.masterPid).toBe(before.masterPid);
    expect(after.reloads - before.reloads).toBe(4);
    expect(after.failedReloads).toBe(before.failedReloads);
    for (const [r, client] of [[h, "client-1"], [s, "client-2"]] as const) {
      expect({ sent: r.sent, ok: r.ok, failed: r.failed }).toEqual({ sent: 450, ok: 450, failed: 0 });
      const acc = accountFor(c, r, CLIENTS[client]);
      expect(acc.problems).toEqual([]);
      expect(acc.logged).toBe(450);
    }
    figures.s5 = { reloads: pushes.length, pushes, http: { sent: h.sent, failed: h.failed }, https: { sent: s.sent, failed: s.failed }, wallMs: Math.round(Math.max(h.wallMs, s.wallMs)) };
  });
});

/** Everything on an LB host that a push could change, for before/after comparisons. */
async function lbSnapshot(name: string) {
  const lb = lbEntry(c, name);
  const dir = dirname(lb.configPath);
  const files = readdirSync(dir).filter((f) => f.startsWith("haproxy.cfg")).sort();
  return {
    configSha: fileSha(lb.configPath),
    files: Object.fromEntries(files.map((f) => [f, { sha: fileSha(join(dir, f)), mtimeMs: mtimeMs(join(dir, f)) }])),
    proc: await procInfo(lb),
  };
}

describe("6. a config that fails haproxy -c", () => {
  it("is rejected with the validation error; the old config keeps serving", async () => {
    const before = await lbSnapshot("lb-1");
    const bad = cfg(base, "lb-1") + "\nfrontend broken\n    bind :8080\n    this-is-not-a-keyword on\n";
    const loadP = load("client-1", { target: LB1, count: 100, rateHz: 50, concurrency: 8, runId: "s6" });
    const r = await sshPush(c, base, "lb-1", bad);
    const lr = await loadP;
    expect(r.code).toBe(1);
    const lastLine = r.stderr.trimEnd().split("\n").pop();
    expect(lastLine).toMatch(/^validation failed: .*unknown keyword 'this-is-not-a-keyword' in 'frontend' section; nothing changed$/);
    expect(r.stdout).toBe("");
    expect(await lbSnapshot("lb-1")).toEqual(before);
    expect({ sent: lr.sent, ok: lr.ok, failed: lr.failed }).toEqual({ sent: 100, ok: 100, failed: 0 });
    expect(accountFor(c, lr, CLIENTS["client-1"]).problems).toEqual([]);
    figures.s6 = { exit: r.code, error: lastLine, sent: lr.sent, failed: lr.failed };
  });
});

describe("7. a config that passes -c but cannot bind", () => {
  // What the same bind-failing config did with and without the check: refused/failed client requests,
  // and whether the push got as far as reloading HAProxy (its own report: reloaded, or rolled back).
  let s7: { refused: number; failed: number; reloadTried: boolean } | undefined;
  let s7withoutCheck: { refused: number; reloadTried: boolean } | undefined;
  const reloadTried = (r: { stdout: string; stderr: string }) => /reloaded haproxy|reload did not start a new worker/.test(r.stdout + r.stderr);
  // 198.51.100.99 is not on lb-1: haproxy -c accepts the bind, the reload could not bind it.
  const foreignBind = () => stackSettings(c, { haproxy: { bindAddresses: ["198.51.100.99"] }, push: { verifyTimeoutSeconds: 3 } });
  const refusals = (lr: Awaited<ReturnType<typeof load>>) => lr.results.filter((x) => x.status !== 200 || x.error);

  it("is refused by the bind check before the reload: nothing on lb-1 changes, every request served", async () => {
    const s = foreignBind();
    const candidate = cfg(s, "lb-1");
    const candidatePath = join(STATE_DIR, "lb-1", "candidate-bind.cfg");
    writeFileSync(candidatePath, candidate);
    const check = await onHost("lb-1", "haproxy", ["-c", "-f", candidatePath]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const before = await lbSnapshot("lb-1");
    const loadP = load("client-2", { target: LB1, count: 400, rateHz: 40, concurrency: 8, runId: "s7" });
    await new Promise((r) => setTimeout(r, 1000));
    const r = await sshPush(c, s, "lb-1", candidate);
    const lr = await loadP;
    expect(r.code).toBe(1);
    const lastLine = r.stderr.trimEnd().split("\n").pop();
    expect(lastLine).toBe("bind check failed: 198.51.100.99:80 is not an address of this host; nothing changed");
    expect(r.stdout).toBe(`received and validated the new haproxy.cfg (${Buffer.byteLength(candidate)} bytes, sha256:${sha256(candidate)})\n`);
    // Files (sha + mtime), master, the same worker, reload and failed-reload counters: all unchanged.
    expect(await lbSnapshot("lb-1")).toEqual(before);
    const failed = refusals(lr);
    expect({ sent: lr.sent, ok: lr.ok, failed: failed.length }).toEqual({ sent: 400, ok: 400, failed: 0 });
    expect(accountFor(c, lr, CLIENTS["client-2"]).problems).toEqual([]);
    s7 = { refused: failed.filter((x) => x.error === "ECONNREFUSED").length, failed: failed.length, reloadTried: reloadTried(r) };
    figures.s7 = { exit: r.code, error: lastLine, pushMs: r.endMs - r.startMs, sent: lr.sent, failed: failed.length, refused: s7.refused };
  });

  it("a port another process holds on lb-1 is refused by the bind check too, naming the process", async () => {
    const lb = lbEntry(c, "lb-1");
    // Another daemon on lb-1 listening on 8080; the candidate moves the http frontend there.
    const holder = spawn("ip", ["netns", "exec", lb.namespace, process.execPath, "-e", "require('net').createServer().listen(8080, '0.0.0.0')"], { stdio: "ignore" });
    onTestFinished(() => void holder.kill("SIGTERM"));
    await waitFor("the holder to listen on lb-1:8080", async () => ((await onHost("lb-1", "ss", ["-Hltn", "sport = :8080"])).stdout.trim() ? true : undefined), 10_000);
    const s = stackSettings(c, { haproxy: { frontendPorts: { http: 8080, https: 443 } } });
    const before = await lbSnapshot("lb-1");
    const loadP = load("client-1", { target: LB1, count: 100, rateHz: 50, concurrency: 8, runId: "s7-port" });
    const r = await sshPush(c, s, "lb-1", cfg(s, "lb-1"));
    const lr = await loadP;
    expect(r.code).toBe(1);
    const lastLine = r.stderr.trimEnd().split("\n").pop();
    expect(lastLine).toBe(`bind check failed: port 8080 is held by node (pid ${holder.pid}); nothing changed`);
    expect(await lbSnapshot("lb-1")).toEqual(before);
    expect({ sent: lr.sent, failed: lr.failed }).toEqual({ sent: 100, failed: 0 });
    expect(accountFor(c, lr, CLIENTS["client-1"]).problems).toEqual([]);
    figures.s7port = { exit: r.code, error: lastLine, pushMs: r.endMs - r.startMs, sent: lr.sent, failed: lr.failed };
  });

  it("without the bind check the reload is tried, fails and is rolled back (why the check exists)", async () => {
    const lb = lbEntry(c, "lb-1");
    const s = foreignBind();
    const candidate = cfg(s, "lb-1");
    const withoutCheck = { ...haproxyPushParams(s, lbSettings(s, "lb-1")), bindCheckBeforeReload: false };
    const before = await lbSnapshot("lb-1");
    const loadP = load("client-2", { target: LB1, count: 400, rateHz: 40, concurrency: 8, runId: "s7-nocheck" });
    await new Promise((r) => setTimeout(r, 1000));
    const r = await sshPush(c, s, "lb-1", candidate, { command: bashCommand(renderPushScript(withoutCheck, "push", { content: candidate, digestKey: NETNS_DIGEST_KEY, owner: "ingress-lb-lb-1-push" }), "ingress-haproxy-push") });
    const lr = await loadP;
    expect(r.code).toBe(2);
    const lastLine = r.stderr.trimEnd().split("\n").pop();
    expect(lastLine).toBe(`reload did not start a new worker within 3s; restored the last verified haproxy.cfg (sha256:${before.configSha})`);
    const after = await lbSnapshot("lb-1");
    expect(after.configSha).toBe(before.configSha);
    expect(after.proc.masterPid).toBe(before.proc.masterPid);
    expect(after.proc.workers).toHaveLength(1);
    await waitAllServers(lb, "UP");
    // The reload the check exists to prevent happened, and failed (the push's last line above, every
    // run; HAProxy 2.6's `show proc` has no failed-reload counter to read it from). It may also pause
    // the old worker's listeners (SIGTTOU) while the new process retries the bind, then resume them
    // (SIGTTIN): connections arriving then are refused. Whether that window opens depends on timing
    // (82 of 400 refused in one run, 0 in another on a loaded machine), so refusals are reported, and
    // any there are must be ECONNREFUSED during the push.
    const failed = refusals(lr);
    s7withoutCheck = { refused: failed.length, reloadTried: reloadTried(r) };
    const refusedWindowMs = failed.length ? failed[failed.length - 1].startMs - failed[0].startMs : 0;
    expect(failed.filter((x) => x.error !== "ECONNREFUSED" || x.startMs < r.startMs || x.startMs > r.endMs)).toEqual([]);
    expect(lr.ok + failed.length).toBe(400);
    expect(accountFor(c, lr, CLIENTS["client-2"]).problems).toEqual([]);
    const post = await load("client-2", { target: LB1, count: 20, rateHz: 50, runId: "s7-nocheck-post" });
    expect({ sent: post.sent, failed: post.failed }).toEqual({ sent: 20, failed: 0 });
    figures.s7withoutCheck = {
      exit: r.code, error: lastLine, pushMs: r.endMs - r.startMs, sent: lr.sent, refused: failed.length,
      refusedWindowMs, refusedStartAfterPushMs: failed.length ? failed[0].startMs - r.startMs : null,
      reloads: after.proc.reloads - before.proc.reloads,
    };
  });

  it("the difference the bind check makes: with it no reload is tried and nothing is refused; without it the reload fails", () => {
    expect({ withCheck: s7, withoutCheckTriedAReload: s7withoutCheck?.reloadTried }).toEqual({
      withCheck: { refused: 0, failed: 0, reloadTried: false },
      withoutCheckTriedAReload: true,
    });
  });
});

describe("8. a wrong host key", () => {
  it("is refused before anything on the host changes", async () => {
    const lb = lbEntry(c, "lb-1");
    const wrong = join(STATE_DIR, "ssh", "known_hosts.wrong");
    // lb-1's address pinned to lb-2's key: what a man in the middle (or a rebuilt host) looks like.
    writeFileSync(wrong, `${LB1} ${lbEntry(c, "lb-2").hostKey}\n`);
    const before = await lbSnapshot("lb-1");
    const sshdLog = () => readFileSync(lb.sshdLog, "utf8");
    const acceptedBefore = (sshdLog().match(/Accepted publickey/g) ?? []).length;
    const s = variant(4021);
    const r = await sshPush(c, s, "lb-1", cfg(s, "lb-1"), { knownHostsPath: wrong });
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("Host key verification failed.");
    expect(r.stdout).toBe("");
    expect(await lbSnapshot("lb-1")).toEqual(before);
    expect((sshdLog().match(/Accepted publickey/g) ?? []).length).toBe(acceptedBefore);
    figures.s8 = { exit: r.code, error: r.stderr.trim().split("\n").pop() };
  });
});

/** flock(2) locks on `path` from /proc/locks: how many hold it and how many wait for it. */
function flockOf(path: string): { held: number; waiting: number } {
  const ino = `:${statSync(path).ino} `;
  const lines = readFileSync("/proc/locks", "utf8").split("\n").filter((l) => l.includes(" FLOCK ") && l.includes(ino));
  const waiting = lines.filter((l) => l.includes(" -> ")).length;
  return { held: lines.length - waiting, waiting };
}

describe("9. two pushes at once", () => {
  it("are serialized; the file is always one whole config, never a mix", async () => {
    const lb = lbEntry(c, "lb-1");
    const before = await procInfo(lb);
    const a = cfg(variant(4031), "lb-1");
    const b = cfg(variant(4032), "lb-1");
    const old = readFileSync(lb.configPath, "utf8");
    const allowed = new Map([[sha256(old), "old"], [sha256(a), "A"], [sha256(b), "B"]]);
    const seen = new Map<string, number>();
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const sha = fileSha(lb.configPath);
        seen.set(sha, (seen.get(sha) ?? 0) + 1);
        await new Promise((r) => setImmediate(r));
      }
    })();
    const loadP = load("client-1", { target: LB1, count: 200, rateHz: 50, concurrency: 8, runId: "s9" });
    // The test takes the push lock first: both pushes must queue on it before touching anything.
    const lock = pushFiles(lb.configPath).lock;
    const holder = spawn("flock", [lock, "cat"], { stdio: ["pipe", "ignore", "ignore"] });
    onTestFinished(() => void holder.kill("SIGTERM"));
    await waitFor("the test to hold the push lock", async () => (flockOf(lock).held === 1 ? true : undefined), 10_000, 20);
    const pushes = Promise.all([sshPush(c, variant(4031), "lb-1", a), sshPush(c, variant(4032), "lb-1", b)]);
    const queued = await waitFor("both pushes waiting on the lock", async () => (flockOf(lock).waiting === 2 ? flockOf(lock) : undefined), 30_000, 20);
    const whileQueued = { config: allowed.get(fileSha(lb.configPath)), reloads: (await procInfo(lb)).reloads };
    holder.stdin.end();
    const [ra, rb] = await pushes;
    reading = false;
    await reader;
    const lr = await loadP;
    expect([ra.code, rb.code], ra.stderr + rb.stderr).toEqual([0, 0]);
    for (const r of [ra, rb]) expect(r.stdout).toMatch(/reloaded haproxy: new worker \d+ serves every bind/);
    // Serialized by the lock: both queued behind it, and nothing changed while they waited.
    expect({ queued, whileQueued }).toEqual({ queued: { held: 1, waiting: 2 }, whileQueued: { config: "old", reloads: before.reloads } });
    const final = readFileSync(lb.configPath, "utf8");
    expect([a, b]).toContain(final);
    expect([...seen.keys()].filter((k) => !allowed.has(k))).toEqual([]);
    expect(seen.has(sha256(old)) && seen.has(sha256(final))).toBe(true);
    const spanMs = Math.max(ra.endMs, rb.endMs) - Math.min(ra.startMs, rb.startMs);
    const after = await procInfo(lb);
    expect(after.reloads - before.reloads).toBe(2);
    expect(after.failedReloads).toBe(before.failedReloads);
    expect({ sent: lr.sent, failed: lr.failed }).toEqual({ sent: 200, failed: 0 });
    expect(accountFor(c, lr, CLIENTS["client-1"]).problems).toEqual([]);
    figures.s9 = {
      pushAms: ra.endMs - ra.startMs, pushBms: rb.endMs - rb.startMs, spanMs, final: allowed.get(sha256(final)),
      reads: [...seen.values()].reduce((x, y) => x + y, 0), contentsSeen: [...seen.keys()].map((k) => allowed.get(k)), sent: lr.sent, failed: lr.failed,
    };
    // back to the base config
    expect((await sshPush(c, base, "lb-1", cfg(base, "lb-1"))).code).toBe(0);
  });
});

describe("10. two LB hosts", () => {
  it("both get the new config; an unreachable LB fails its own push only", async () => {
    const s1 = variant(4041);
    const both = await Promise.all(["lb-1", "lb-2"].map((lb) => sshPush(c, s1, lb, cfg(s1, lb))));
    expect(both.map((r) => r.code), both.map((r) => r.stderr).join("\n")).toEqual([0, 0]);
    for (const lb of ["lb-1", "lb-2"]) expect(fileSha(lbEntry(c, lb).configPath)).toBe(sha256(cfg(s1, lb)));
    const lr1 = await Promise.all([
      load("client-1", { target: LB1, count: 30, rateHz: 60, runId: "s10-lb1" }),
      load("client-2", { target: LB2, count: 30, rateHz: 60, runId: "s10-lb2" }),
    ]);
    expect(lr1.map((r) => r.failed)).toEqual([0, 0]);

    const lb2Before = await lbSnapshot("lb-2");
    const s2 = variant(4042);
    hostsCtl("link", "lb-2", "down");
    let results;
    try {
      results = await Promise.all(["lb-1", "lb-2"].map((lb) => sshPush(c, s2, lb, cfg(s2, lb), { connectTimeoutSeconds: 3 })));
    } finally {
      hostsCtl("link", "lb-2", "up");
    }
    const tUp = Date.now();
    // While unplugged, lb-2's own health checks failed: it marked every node DOWN. rise 1 brings them back.
    const lb2Recovery = await waitFor("lb-2 servers UP after the link is back", async () =>
      (await waitAllServers(lbEntry(c, "lb-2"), "UP", 100).catch(() => undefined)) ? Date.now() - tUp : undefined, 10_000, 20);
    const [r1, r2] = results;
    expect(r1.code, r1.stderr).toBe(0);
    expect(fileSha(lbEntry(c, "lb-1").configPath)).toBe(sha256(cfg(s2, "lb-1")));
    expect(r2.code).toBe(255);
    expect(r2.stderr).toMatch(/ssh: connect to host 198\.51\.100\.11 port 22: (Connection timed out|No route to host)/);
    expect(await lbSnapshot("lb-2")).toEqual(lb2Before);
    // lb-2 is back on the wire and still serves its previous config
    const lr2 = await Promise.all([
      load("client-1", { target: LB1, count: 30, rateHz: 60, runId: "s10-lb1-after" }),
      load("client-2", { target: LB2, count: 30, rateHz: 60, runId: "s10-lb2-after" }),
    ]);
    expect(lr2.map((r) => r.failed)).toEqual([0, 0]);
    for (const [r, client] of [[lr1[0], "client-1"], [lr1[1], "client-2"], [lr2[0], "client-1"], [lr2[1], "client-2"]] as const)
      expect(accountFor(c, r, CLIENTS[client]).problems).toEqual([]);
    figures.s10 = { lb2RecoveryMs: lb2Recovery, unreachable: r2.stderr.trim().split("\n").pop(), unreachablePushMs: r2.endMs - r2.startMs, sent: 120, failed: 0 };
    // converge again
    for (const lb of ["lb-1", "lb-2"]) expect((await sshPush(c, base, lb, cfg(base, lb))).code).toBe(0);
  });
});

describe("11. drift", () => {
  it("a hand edit on an LB host is reported by scripts/drift-check.ts", async () => {
    const expectedFile = join(STATE_DIR, "drift-expected.json");
    // The shape of the stack output `loadBalancers`, with the pinned host keys from the contract.
    const expected = Object.fromEntries(
      c.loadBalancers.map((lb) => [lb.name, {
        address: lb.address, sshPort: lb.sshPort, user: lb.user, hostKey: lb.hostKey, configPath: lb.configPath, configSha256: sha256(cfg(base, lb.name)),
      }]),
    );
    writeFileSync(expectedFile, JSON.stringify(expected, null, 2));
    const drift = () => run(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "scripts/drift-check.ts"), "--expected", expectedFile, "--key-file", c.ssh.privateKeyPath]);
    const clean = await drift();
    expect({ code: clean.code, out: clean.stdout.trim().split("\n") }, clean.stderr).toEqual({
      code: 0, out: [`lb-1 ok ${expected["lb-1"].configSha256}`, `lb-2 ok ${expected["lb-2"].configSha256}`],
    });
    // A hand edit on lb-2, made the way an operator would: over SSH, on the host.
    const lb2 = lbEntry(c, "lb-2");
    const edit = await run("ssh", [
      "-i", c.ssh.privateKeyPath, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${c.ssh.knownHostsPath}`,
      `root@${lb2.address}`, `sed -i 's/^\\(    timeout client\\) .*/\\1 99000ms/' ${lb2.configPath} && grep -c 'timeout client 99000ms' ${lb2.configPath}`,
    ]);
    onTestFinished(async () => {
      if (fileSha(lb2.configPath) !== sha256(cfg(base, "lb-2"))) await sshPush(c, base, "lb-2", cfg(base, "lb-2"));
    });
    expect(edit.stdout.trim(), edit.stderr).toBe("1");
    const editedSha = fileSha(lb2.configPath);
    const drifted = await drift();
    expect({ code: drifted.code, out: drifted.stdout.trim().split("\n") }).toEqual({
      code: 1, out: [`lb-1 ok ${expected["lb-1"].configSha256}`, `lb-2 DRIFTED live=${editedSha} expected=${expected["lb-2"].configSha256}`],
    });
    // The next push repairs it.
    expect((await sshPush(c, base, "lb-2", cfg(base, "lb-2"))).code).toBe(0);
    const repaired = await drift();
    expect(repaired.code).toBe(0);
    // An unreachable host is an error of its own (exit 2), not drift.
    hostsCtl("link", "lb-1", "down");
    let unreachable;
    try {
      unreachable = await drift();
    } finally {
      hostsCtl("link", "lb-1", "up");
    }
    expect(unreachable.code).toBe(2);
    expect(unreachable.stdout).toMatch(/^lb-1 ERROR .*198\.51\.100\.10/m);
    expect(unreachable.stdout).toContain(`lb-2 ok ${expected["lb-2"].configSha256}`);
    await waitAllServers(lbEntry(c, "lb-1"), "UP");
    figures.s11 = { clean: clean.stdout.trim(), drifted: drifted.stdout.trim(), unreachable: unreachable.stdout.trim(), repairedExit: repaired.code };
  });
});

it("ends with every LB serving the base config and every node UP", async () => {
  for (const lb of ["lb-1", "lb-2"]) {
    expect(fileSha(lbEntry(c, lb).configPath)).toBe(sha256(cfg(base, lb)));
    await waitAllServers(lbEntry(c, lb), "UP");
  }
  expect(existsSync(join(STATE_DIR, "hosts.json"))).toBe(true);
  void masterCli;
});
