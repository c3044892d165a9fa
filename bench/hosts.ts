// Brings the bench hosts up: namespaces (bench/netns.sh), the syslog sink, nginx on the node host and
// one HAProxy per compared config on the LB host. Every instance runs for the whole data-path phase,
// so the interleaved rounds never wait for a start.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Settings } from "../components/settings";
import {
  BENCH_DIR, HOSTS, NGINX_PLAIN_PORT, REPO, SYSLOG_SOCKET, benchSettings, generatedConfig, instancePaths, nginxConfig, referenceConfig,
  TUNED, withCheckTimeout, withDontlogNormal, withoutFeature, type Toggle,
} from "./configs";
import { curlCode, familyOf, inNs, netnsScript, readPid, sh, sleep, waitFor } from "./lib";

/** One compared path: where wrk sends, and which processes' CPU is HAProxy's. */
export interface Variant {
  readonly id: string;
  readonly label: string;
  readonly url: string;
  /** pid file of the HAProxy instance (undefined: the direct path). */
  readonly pidFile?: string;
  readonly settings?: Settings;
  readonly configPath?: string;
}

export const REF_PORT = 8001;

export interface BenchHosts {
  variants: Variant[];
  nginxPidFile: string;
  syslogReport: string;
  stop(): Promise<{ datagrams: number; bytes: number; health: { t: number; line: string }[] }>;
}

let sink: ChildProcess | undefined;

export function netnsDown(): void {
  sh(netnsScript, ["down"], { allowFail: true });
}

/** ids: which variants to start, in order ("direct", "ref", "gen", "gen-nolog", ...). */
export async function hostsUp(ids: string[]): Promise<BenchHosts> {
  sh(netnsScript, ["up"]);
  mkdirSync(join(BENCH_DIR, "nginx", "tmp"), { recursive: true });

  const syslogReport = join(BENCH_DIR, "syslog-report.json");
  rmSync(syslogReport + ".health", { force: true });
  sink = spawn("python3", [join(REPO, "bench/syslog-sink.py"), SYSLOG_SOCKET, syslogReport], { stdio: "ignore" });
  await waitFor("the syslog sink's socket", () => existsSync(SYSLOG_SOCKET), 5000);

  const base = benchSettings("gen", { http: 80, https: 443, stats: 8404 });
  writeFileSync(join(BENCH_DIR, "nginx", "nginx.conf"), nginxConfig(base));
  inNs("node", "nginx", ["-e", join(BENCH_DIR, "nginx", "error.log"), "-c", join(BENCH_DIR, "nginx", "nginx.conf")]);
  const nginxPidFile = join(BENCH_DIR, "nginx", "nginx.pid");

  const variants: Variant[] = [];
  let slot = 0;
  for (const id of ids) {
    if (id === "direct") {
      variants.push({ id, label: "a. direct to nginx (no PROXY protocol)", url: `http://${HOSTS.node.addresses[0]}:${NGINX_PLAIN_PORT}/` });
      continue;
    }
    if (id === "ref") {
      const p = instancePaths("ref");
      mkdirSync(p.dir, { recursive: true });
      writeFileSync(p.configPath, referenceConfig(REF_PORT, base));
      inNs("lb", "haproxy", ["-D", "-f", p.configPath]);
      variants.push({ id, label: "b. reference: minimal TCP + send-proxy", url: `http://${HOSTS.lb.address}:${REF_PORT}/`, pidFile: p.pidFile, configPath: p.configPath });
      continue;
    }
    const m = /^gen(?:-(nolog|nocheck|nostats|tuned|quietlog))?$/.exec(id);
    if (!m) throw new Error(`unknown variant ${id}`);
    const toggle = m[1] as Toggle | "tuned" | "quietlog" | undefined;
    const ports = { http: 8100 + 10 * slot, https: 8101 + 10 * slot, stats: 8404 + slot };
    slot++;
    const extra = toggle === "nostats" ? { stats: { enabled: false } } : toggle === "tuned" ? { timeouts: { connectMs: TUNED.connectMs } } : {};
    const s = benchSettings(id, ports, extra);
    let text = generatedConfig(s);
    if (toggle === "tuned") text = withCheckTimeout(text, TUNED.checkMs);
    else if (toggle === "quietlog") text = withDontlogNormal(text);
    else if (toggle && toggle !== "nostats") text = withoutFeature(text, toggle);
    const p = instancePaths(id);
    mkdirSync(p.dir, { recursive: true });
    writeFileSync(p.configPath, text);
    inNs("lb", "haproxy", ["-D", "-S", p.masterSocket, "-f", p.configPath]);
    variants.push({
      id,
      label: toggle === "quietlog" ? "candidate: generated + `option dontlog-normal`" : toggle === "tuned" ? `candidate: generated with timeout connect ${TUNED.connectMs}ms + timeout check ${TUNED.checkMs}ms` : toggle ? `c-${toggle}. generated, ${toggle.slice(2)} off` : "c. generated (dev stack, stats on)",
      url: `http://${HOSTS.lb.address}:${ports.http}/`,
      pidFile: p.pidFile,
      settings: s,
      configPath: p.configPath,
    });
  }

  // Every path answers from the client host before anything is measured.
  for (const v of variants) await waitFor(`${v.id} (${v.url}) to answer 200`, () => curlCode(v.url) === "200", 15_000);
  return {
    variants,
    nginxPidFile,
    syslogReport,
    async stop() {
      sink?.kill("SIGTERM");
      const deadline = Date.now() + 5000;
      while (sink && sink.exitCode === null && Date.now() < deadline) await sleep(50);
      sink = undefined;
      try {
        return JSON.parse(readFileSync(syslogReport, "utf8"));
      } catch {
        return { datagrams: NaN, bytes: NaN, health: [] };
      }
    },
  };
}

/** HAProxy's processes for a variant right now (master + workers; or the single daemon). */
export function haproxyPids(v: Variant): number[] {
  return v.pidFile ? familyOf(readPid(v.pidFile)) : [];
}

export function nginxPids(h: BenchHosts): number[] {
  return familyOf(readPid(h.nginxPidFile));
}

export function stopSink(): void {
  sink?.kill("SIGTERM");
  sink = undefined;
}
