// Pure logic of the drift check (scripts/drift-check.ts): which hosts to ask, how to pin their host
// keys, how to read `sha256sum` and how to judge the answers. The script only adds ssh.
import { isIP } from "node:net";
import type { Settings } from "../settings";

/** One entry of the stack output `loadBalancers` (optionally with the SSH details inline). */
export interface ExpectedLoadBalancer {
  readonly address: string;
  readonly configPath: string;
  readonly configSha256: string;
  readonly sshPort?: number;
  readonly user?: string;
  readonly hostKey?: string;
}

export interface DriftTarget {
  readonly name: string;
  readonly address: string;
  readonly sshPort: number;
  readonly user: string;
  readonly hostKey: string;
  readonly configPath: string;
  readonly expectedSha256: string;
}

export type LiveAnswer = { readonly sha256: string } | { readonly missing: true } | { readonly error: string };

export interface DriftReport {
  readonly lines: string[];
  /** 0 all match, 1 at least one host drifted, 2 no drift seen but at least one host could not be checked. */
  readonly exitCode: 0 | 1 | 2;
}

const SHA_RE = /^[0-9a-f]{64}$/;

/**
 * Joins the expected hashes with the SSH details (inline in the expected entry, else from the stack's
 * settings). Throws a message naming the host when something is missing.
 */
export function driftTargets(expected: Record<string, ExpectedLoadBalancer>, settings?: Pick<Settings, "loadBalancers">): DriftTarget[] {
  const names = Object.keys(expected);
  if (!names.length) throw new Error("no load balancers in the expected hashes");
  return names.map((name) => {
    const e = expected[name];
    const lb = settings?.loadBalancers.find((l) => l.name === name);
    if (!e || typeof e.configSha256 !== "string" || !SHA_RE.test(e.configSha256)) throw new Error(`${name}: expected configSha256 is not a sha256 hex digest`);
    const hostKey = e.hostKey ?? lb?.hostKey;
    if (!hostKey) throw new Error(`${name}: no pinned host key (not in the expected file, and not in the stack config)`);
    return {
      name,
      address: e.address ?? lb?.address,
      sshPort: e.sshPort ?? lb?.sshPort ?? 22,
      user: e.user ?? lb?.user ?? "root",
      hostKey,
      configPath: e.configPath ?? lb?.configPath,
      expectedSha256: e.configSha256,
    };
  });
}

/** A known_hosts line pinning `hostKey` ("TYPE BASE64 [comment]") for address:port. */
export function knownHostsLine(address: string, port: number, hostKey: string): string {
  const [type, key] = hostKey.trim().split(/\s+/);
  const host = port === 22 && isIP(address) !== 6 ? address : `[${address}]:${port}`;
  return `${host} ${type} ${key}`;
}

/** Reads `sha256sum FILE` output (or exit status 1 with "No such file"). */
export function parseSha256sum(stdout: string, stderr: string, exitCode: number): LiveAnswer {
  const sha = stdout.trim().split(/\s+/)[0] ?? "";
  if (exitCode === 0 && SHA_RE.test(sha)) return { sha256: sha };
  if (/No such file or directory/.test(stderr)) return { missing: true };
  const why = (stderr.trim().split("\n").pop() ?? "").trim() || `exit ${exitCode}`;
  return { error: why };
}

/** One line per host, in the order given, and the exit code. */
export function compareDrift(targets: readonly DriftTarget[], live: Record<string, LiveAnswer>): DriftReport {
  let drifted = false;
  let failed = false;
  const lines = targets.map((t) => {
    const a = live[t.name];
    if (!a) {
      failed = true;
      return `${t.name} ERROR not checked`;
    }
    if ("error" in a) {
      failed = true;
      return `${t.name} ERROR ${a.error}`;
    }
    if ("missing" in a) {
      drifted = true;
      return `${t.name} DRIFTED live=missing expected=${t.expectedSha256}`;
    }
    if (a.sha256 === t.expectedSha256) return `${t.name} ok ${a.sha256}`;
    drifted = true;
    return `${t.name} DRIFTED live=${a.sha256} expected=${t.expectedSha256}`;
  });
  return { lines, exitCode: drifted ? 1 : failed ? 2 : 0 };
}
