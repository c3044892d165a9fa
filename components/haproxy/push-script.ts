// The push that can never break a load balancer. The script itself is a real shell file, push.sh
// (shellcheck-clean, runnable on its own); this module only builds its parameter assignments, the
// command line and the stdin. Generic over the file, the validate and reload commands and the
// verification, so keepalived.conf reuses it. The component runs it with @pulumi/command remote.Command:
// `create`/`update` = the push command, `stdin` = (digest key line +) the file, `delete` = restore.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { STACK_ID, type LoadBalancerSettings, type Settings } from "../settings";
import { configDigest, type Digest, type DigestKind } from "./digest";

const PUSH_SH = readFileSync(join(__dirname, "push.sh"), "utf8");
const BIND_CHECK_SH = readFileSync(join(__dirname, "bind-check.sh"), "utf8");

/** How the script proves that a reload really took (a bind failure passes `haproxy -c`). */
export type PushVerification =
  /**
   * HAProxy in master-worker mode (master pid in `pidFile`): within verifyTimeoutSeconds a worker that
   * was not there before holds every TCP bind of the new file (`ss`) and each accepts a connection.
   */
  | { readonly kind: "haproxy-master-worker"; readonly pidFile: string }
  /**
   * keepalived: it deletes the `reload_file` (`reloadMarker`) its config names once it has read the new
   * config (the proof the reload took); then `command` (parent and VRRP child alive) must pass.
   */
  | { readonly kind: "keepalived-reload-file"; readonly reloadMarker: string; readonly command: string }
  /** A shell command that must exit 0 within verifyTimeoutSeconds after the reload (polled). */
  | { readonly kind: "command"; readonly command: string }
  /** Trust the reload command's exit status. */
  | { readonly kind: "none" };

export interface PushParams {
  /** What is pushed, for messages, e.g. "haproxy.cfg" or "keepalived.conf". */
  readonly label: string;
  /** The service, for messages, e.g. "haproxy". */
  readonly service: string;
  /** Absolute path of the live file (a symlink is resolved; the push's own files live beside the real file). */
  readonly targetPath: string;
  /** Shell command that validates a candidate file whose path is in `$CONFIG`, e.g. `haproxy -c -f "$CONFIG"`. */
  readonly validateCommand: string;
  /**
   * haproxy only: the bind check (bind-check.sh with its pid file), run on the candidate before anything
   * changes, and (LIST_BINDS=1) the list of binds the serving check proves. See renderBindCheck().
   */
  readonly bindCheck?: string;
  /** Tests only: false skips the bind check before the reload (the serving check still lists binds). */
  readonly bindCheckBeforeReload?: boolean;
  /** Shell command that gracefully reloads the service, e.g. `systemctl reload haproxy`. */
  readonly reloadCommand: string;
  readonly verify: PushVerification;
  /** How long to wait for another push's lock (flock -w). */
  readonly lockTimeoutSeconds: number;
  /** How long the reload command may run, and then how long the reload may take to prove itself. */
  readonly verifyTimeoutSeconds: number;
  /** The widest mode of the installed file, e.g. "0644"; "0600" when it holds secrets. */
  readonly fileMode: string;
  /** "hmac-sha256" when the file holds a secret: every digest printed or compared is keyed. */
  readonly digestKind: DigestKind;
  /** Destroy restores over a hand edit of the live file (push.restoreOverHandEdits). */
  readonly restoreOverHandEdits: boolean;
  /** A stack (`<project>:<stack>`) whose pushes this one may replace (push.takeOverFrom); "" for none. */
  readonly takeOverFrom: string;
}

/** What one push carries: the file and where the keyed digests' key comes from. */
export interface PushInput {
  /** The file content. */
  readonly content: string;
  /** The digest key (hex, digestKey()); needed when digestKind is hmac-sha256. */
  readonly digestKey?: string;
  /** This push's order; a host that verified a higher one refuses it. 0: no ordering. */
  readonly generation?: number;
  /**
   * Which resource pushes, as `<project>:<stack>:<resource>` (pushOwner): a push refuses a host another
   * stack pushed to; destroy restores only while the host holds this owner's config.
   */
  readonly owner: string;
  /** Test seam only: a directory for pause hooks (push.sh `hook`). */
  readonly hookDir?: string;
}

/** A command line and the stdin it needs. */
export interface RemoteInvocation {
  readonly command: string;
  readonly stdin: string;
}

/** Files the script keeps beside the (resolved) target. */
export function pushFiles(targetPath: string) {
  return {
    /** The last verified config (replaced only after a verified reload). */
    good: `${targetPath}.good`,
    /** The file as it was before the very first push; `restore` puts it back. */
    orig: `${targetPath}.orig`,
    /** Marker written by the first push when there was no file before. */
    origAbsent: `${targetPath}.orig-absent`,
    /** flock(1) lock file; two pushes never interleave. */
    lock: `${targetPath}.lock`,
    /** One line: the transaction's step, the verified generation, the pushing owner. */
    journal: `${targetPath}.journal`,
  };
}

/** Single-quotes `value` for POSIX shells (also bash). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The remote command line that runs `script` with bash, whatever the login shell; stdin stays free
 * for the file content. `$0` is `name` so bash's own messages say which script spoke.
 */
export function bashCommand(script: string, name: string): string {
  return `bash -c ${shellQuote(script)} ${shellQuote(name)}`;
}

/** PushParams for haproxy.cfg on `lb`, from validated settings. */
export function haproxyPushParams(s: Settings, lb: LoadBalancerSettings): PushParams {
  return {
    label: "haproxy.cfg",
    service: "haproxy",
    targetPath: lb.configPath,
    validateCommand: 'haproxy -c -f "$CONFIG"',
    // A bind failure passes `haproxy -c`, and HAProxy 2.6 refuses new connections for ~2 s while the
    // failed reload retries the bind: catch it before the reload.
    bindCheck: renderBindCheck(lb.pidFile),
    reloadCommand: lb.reloadCommand,
    verify: { kind: "haproxy-master-worker", pidFile: lb.pidFile },
    lockTimeoutSeconds: s.push.lockTimeoutSeconds,
    verifyTimeoutSeconds: s.push.verifyTimeoutSeconds,
    // With stats on, the file holds the stats password hash.
    fileMode: s.haproxy.stats.enabled ? "0600" : "0644",
    digestKind: s.haproxy.stats.enabled ? "hmac-sha256" : "sha256",
    restoreOverHandEdits: s.push.restoreOverHandEdits,
    takeOverFrom: s.push.takeOverFrom ?? "",
  };
}

/** The owner a resource's pushes carry: the stack and the resource (push.sh's one-stack-per-host check). */
export function pushOwner(project: string, stack: string, resource: string): string {
  return `${project}:${stack}:${resource}`;
}

/** The digest of the pushed content, of the params' kind. */
export function pushDigest(p: PushParams, input: Pick<PushInput, "content" | "digestKey">): Digest {
  return configDigest(input.content, p.digestKind, input.digestKey);
}

function checkParams(p: PushParams): void {
  if (!/^\/[^\0\n]*[^/]$/.test(p.targetPath)) throw new Error(`targetPath must be an absolute file path, got ${JSON.stringify(p.targetPath)}`);
  if (!/^0?[0-7]{3}$/.test(p.fileMode)) throw new Error(`fileMode must be an octal mode such as 0644, got ${JSON.stringify(p.fileMode)}`);
  for (const [name, v] of [["lockTimeoutSeconds", p.lockTimeoutSeconds], ["verifyTimeoutSeconds", p.verifyTimeoutSeconds]] as const)
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a whole number of seconds >= 1, got ${v}`);
  if (p.takeOverFrom !== "" && !STACK_ID.test(p.takeOverFrom)) throw new Error(`takeOverFrom must be <project>:<stack>, got ${JSON.stringify(p.takeOverFrom)}`);
  if (!/^[A-Za-z0-9_.-]+$/.test(p.label) || !/^[A-Za-z0-9_.-]+$/.test(p.service)) throw new Error("label and service may hold only letters, digits, '.', '_' and '-'");
}

function checkInput(p: PushParams, input: PushInput): void {
  if (p.digestKind === "hmac-sha256" && !/^[0-9a-f]{64}$/.test(input.digestKey ?? "")) throw new Error(`${p.label} holds a secret: its push needs the digest key (digestKey(sshPrivateKey))`);
  if (!Number.isInteger(input.generation ?? 0) || (input.generation ?? 0) < 0) throw new Error(`generation must be a whole number >= 0, got ${input.generation}`);
  if (!/^[A-Za-z0-9_.:-]+$/.test(input.owner)) throw new Error(`owner must be a resource name (letters, digits, '.', '_', ':', '-'), got ${JSON.stringify(input.owner)}`);
}

/** The parameter assignments push.sh reads, in order, each value single-quoted. */
export function pushAssignments(p: PushParams, mode: "push" | "restore", input: PushInput): [string, string][] {
  checkParams(p);
  checkInput(p, input);
  const v = p.verify;
  const digest = pushDigest(p, input);
  return [
    ["MODE", mode],
    ["LABEL", p.label],
    ["SERVICE", p.service],
    ["TARGET", p.targetPath],
    ["VALIDATE_COMMAND", p.validateCommand],
    ["BIND_CHECK", p.bindCheck ?? ""],
    ["BIND_CHECK_BEFORE_RELOAD", p.bindCheckBeforeReload === false ? "0" : "1"],
    ["RELOAD_COMMAND", p.reloadCommand],
    ["VERIFY_KIND", v.kind],
    ["PID_FILE", v.kind === "haproxy-master-worker" ? v.pidFile : ""],
    ["RELOAD_MARKER", v.kind === "keepalived-reload-file" ? v.reloadMarker : ""],
    ["VERIFY_COMMAND", v.kind === "command" || v.kind === "keepalived-reload-file" ? v.command : ""],
    ["LOCK_TIMEOUT", String(p.lockTimeoutSeconds)],
    ["VERIFY_TIMEOUT", String(p.verifyTimeoutSeconds)],
    ["FILE_MODE", p.fileMode],
    ["DIGEST_KIND", p.digestKind],
    ["EXPECT_BYTES", String(Buffer.byteLength(input.content))],
    ["EXPECT_DIGEST", digest],
    ["GENERATION", String(input.generation ?? 0)],
    ["OWNER", input.owner],
    ["RESTORE_OVER_EDITS", p.restoreOverHandEdits ? "1" : "0"],
    ["TAKE_OVER_FROM", p.takeOverFrom],
    ["HOOK_DIR", input.hookDir ?? ""],
  ];
}

/** push.sh with its parameters prepended (the only text the program adds). */
export function renderPushScript(p: PushParams, mode: "push" | "restore", input: PushInput): string {
  const header = [
    "#!/usr/bin/env bash",
    `# ingress-haproxy: ${mode} ${p.label} (${p.targetPath}); parameters set by the program, then push.sh.`,
    // Values are run later with bash -c (a $ must not expand here); push.sh's own file-wide directives
    // (SC2015: `A && B || fail` is meant; SC2317: trap handlers) must come before the first command.
    "# shellcheck disable=SC2015,SC2016,SC2034,SC2317",
    ...pushAssignments(p, mode, input).map(([k, v]) => `${k}=${shellQuote(v)}`),
  ].join("\n");
  return `${header}\n${PUSH_SH}`;
}

/** The stdin of a push or restore: the digest key line for keyed digests, then the file. */
export function pushStdin(p: PushParams, input: PushInput): string {
  return p.digestKind === "hmac-sha256" ? `digest-key ${input.digestKey}\n${input.content}` : input.content;
}

/** The `create`/`update` invocation of a push resource. */
export function pushInvocation(p: PushParams, input: PushInput, name: string): RemoteInvocation {
  return { command: bashCommand(renderPushScript(p, "push", input), name), stdin: pushStdin(p, input) };
}

/** The `delete` invocation: restore (puts back the pre-first-push file) or, with onDestroy leave, a message. */
export function restoreInvocation(s: Settings, p: PushParams, input: PushInput, name: string): RemoteInvocation {
  if (s.push.onDestroy === "leave") return { command: leaveCommand(p), stdin: pushStdin(p, input) };
  return { command: bashCommand(renderPushScript(p, "restore", input), name), stdin: pushStdin(p, input) };
}

/** The haproxy.cfg push of `lb` (stdin = digest key line when keyed, then the rendered config). */
export function pushCommand(s: Settings, lb: LoadBalancerSettings, input: PushInput): RemoteInvocation {
  return pushInvocation(haproxyPushParams(s, lb), input, "ingress-haproxy-push");
}

/** The haproxy.cfg destroy of `lb`, per push.onDestroy. */
export function restoreCommand(s: Settings, lb: LoadBalancerSettings, input: PushInput): RemoteInvocation {
  return restoreInvocation(s, haproxyPushParams(s, lb), input, "ingress-haproxy-restore");
}

/** The delete command for onDestroy "leave": says so, touches nothing. */
export function leaveCommand(p: PushParams): string {
  return `echo ${shellQuote(`push.onDestroy is leave: leaving ${p.targetPath} in place`)}`;
}

/**
 * The haproxy.cfg bind check (PushParams.bindCheck): bind-check.sh with the master's pid file. Before
 * the reload it refuses a candidate that binds an address not on this host, a port another process
 * holds, or nothing at all; with LIST_BINDS=1 it lists the binds the serving check proves.
 */
export function renderBindCheck(pidFile: string): string {
  return `# ingress-haproxy bind check; pid_file set by the program, then bind-check.sh.\npid_file=${shellQuote(pidFile)}\n${BIND_CHECK_SH}`;
}
