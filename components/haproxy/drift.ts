// Pure logic of the drift check (scripts/drift-check.ts): which hosts to ask, how to pin their host
// keys, how to digest the live file and how to judge the answers. The script only adds ssh.
// Digests are compared as the stack exports them: a bare sha256 hex for secret-free files,
// "hmac-sha256:<hex>" (keyed with the key derived from the SSH private key) for files with secrets, so
// the drift check never prints an unkeyed digest of a file that holds a secret.
import { isIP } from "node:net";
import type { Settings } from "../settings";
import { configDigest, exportedDigest } from "./digest";

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

/** The live file's digest in the exported format of the expected one, or why there is none. */
export type LiveAnswer = { readonly digest: string } | { readonly missing: true } | { readonly error: string };

export interface DriftReport {
  readonly lines: string[];
  /** 0 all match, 1 at least one host drifted, 2 no drift seen but at least one host could not be checked. */
  readonly exitCode: 0 | 1 | 2;
}

const DIGEST_RE = /^(hmac-sha256:)?[0-9a-f]{64}$/;

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
    if (!e || typeof e.configSha256 !== "string" || !DIGEST_RE.test(e.configSha256))
      throw new Error(`${name}: expected configSha256 is neither a sha256 hex digest nor hmac-sha256:<hex>`);
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

/**
 * Digests the live file (`cat FILE` over ssh: its bytes, stderr, exit status) the way `expected` is
 * written: keyed with `keyHex` when expected is "hmac-sha256:…", else a bare sha256 hex.
 */
export function liveDigest(stdout: Buffer, stderr: string, exitCode: number, expected: string, keyHex?: string): LiveAnswer {
  if (exitCode === 0) {
    const keyed = expected.startsWith("hmac-sha256:");
    if (keyed && !keyHex) return { error: "the expected digest is keyed: the drift check needs the stack's SSH private key" };
    return { digest: exportedDigest(configDigest(stdout, keyed ? "hmac-sha256" : "sha256", keyHex)) };
  }
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
    if (a.digest === t.expectedSha256) return `${t.name} ok ${a.digest}`;
    drifted = true;
    return `${t.name} DRIFTED live=${a.digest} expected=${t.expectedSha256}`;
  });
  return { lines, exitCode: drifted ? 1 : failed ? 2 : 0 };
}
