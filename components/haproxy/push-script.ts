// The push that can never break a load balancer: a bash script, rendered here as a pure string, that
// reads a config file from stdin and validates / locks / backs up / swaps / reloads / verifies, and
// rolls back on any failure. Generic over the file, the validate and reload commands and the
// verification, so keepalived.conf reuses it. The component runs it with @pulumi/command remote.Command:
// `create`/`update` = pushCommand(...), `stdin` = the file content, `delete` = restoreCommand(...).
import type { LoadBalancerSettings, Settings } from "../settings";

/** How the script proves that a reload really took (a bind failure passes `haproxy -c`). */
export type PushVerification =
  /**
   * HAProxy in master-worker mode: the master's pid is in `pidFile`; after the reload a worker (child
   * of the master) that was not there before must appear within verifyTimeoutSeconds and stay alive.
   * Also used before a no-op: "running" = a live master with a live worker.
   */
  | { readonly kind: "haproxy-master-worker"; readonly pidFile: string }
  /** A shell command that must exit 0 within verifyTimeoutSeconds after the reload (polled). */
  | { readonly kind: "command"; readonly command: string }
  /** Trust the reload command's exit status. */
  | { readonly kind: "none" };

export interface PushParams {
  /** What is pushed, for messages, e.g. "haproxy.cfg" or "keepalived.conf". */
  readonly label: string;
  /** The service, for messages, e.g. "haproxy". */
  readonly service: string;
  /** Absolute path of the live file. Temp, backup, `.orig` and lock files live beside it. */
  readonly targetPath: string;
  /** Shell command that validates a candidate file whose path is in `$CONFIG`, e.g. `haproxy -c -f "$CONFIG"`. */
  readonly validateCommand: string;
  /**
   * Optional shell command that proves the host can take the candidate (path in `$CONFIG`) before
   * anything changes: run under the lock, after the service was found running, before the first-push
   * record, the backup, the swap and the reload. Non-zero → the push fails with the command's last
   * output line; the live file is untouched and nothing is reloaded. haproxy: renderBindCheck().
   */
  readonly preReloadCheck?: string;
  /** Shell command that gracefully reloads the service, e.g. `systemctl reload haproxy`. */
  readonly reloadCommand: string;
  readonly verify: PushVerification;
  /** How long to wait for another push's lock (flock -w). */
  readonly lockTimeoutSeconds: number;
  /** How long a reload may take to prove itself. */
  readonly verifyTimeoutSeconds: number;
  /** Mode of the installed file, e.g. "0644"; "0600" when it holds secrets (a password hash). */
  readonly fileMode: string;
}

/** Files the script keeps beside the target. */
export function pushFiles(targetPath: string) {
  return {
    /** The live file as it was before the latest push (rollback source). */
    backup: `${targetPath}.bak`,
    /** The file as it was before the very first push; `restore` puts it back. */
    orig: `${targetPath}.orig`,
    /** Marker written by the first push when there was no file before. */
    origAbsent: `${targetPath}.orig-absent`,
    /** flock(1) lock file; two pushes never interleave. */
    lock: `${targetPath}.lock`,
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
    preReloadCheck: renderBindCheck(lb.pidFile),
    reloadCommand: lb.reloadCommand,
    verify: { kind: "haproxy-master-worker", pidFile: lb.pidFile },
    lockTimeoutSeconds: s.push.lockTimeoutSeconds,
    verifyTimeoutSeconds: s.push.verifyTimeoutSeconds,
    // With stats on, the file holds the stats password hash.
    fileMode: s.haproxy.stats.enabled ? "0600" : "0644",
  };
}

/** The `create`/`update` command of the push resource for `lb` (stdin = rendered haproxy.cfg). */
export function pushCommand(s: Settings, lb: LoadBalancerSettings): string {
  return bashCommand(renderPushScript(haproxyPushParams(s, lb)), "ingress-haproxy-push");
}

/** The `delete` command of the push resource for `lb`, per push.onDestroy. */
export function restoreCommand(s: Settings, lb: LoadBalancerSettings): string {
  const params = haproxyPushParams(s, lb);
  if (s.push.onDestroy === "leave") return leaveCommand(params);
  return bashCommand(renderRestoreScript(params), "ingress-haproxy-restore");
}

/** The delete command for onDestroy "leave": says so, touches nothing. */
export function leaveCommand(p: PushParams): string {
  return `echo ${shellQuote(`push.onDestroy is leave: leaving ${p.targetPath} in place`)}`;
}

function checkParams(p: PushParams): void {
  if (!/^\/[^\0\n]*[^/]$/.test(p.targetPath)) throw new Error(`targetPath must be an absolute file path, got ${JSON.stringify(p.targetPath)}`);
  if (!/^0?[0-7]{3}$/.test(p.fileMode)) throw new Error(`fileMode must be an octal mode such as 0644, got ${JSON.stringify(p.fileMode)}`);
  for (const [name, v] of [["lockTimeoutSeconds", p.lockTimeoutSeconds], ["verifyTimeoutSeconds", p.verifyTimeoutSeconds]] as const)
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a whole number of seconds >= 1, got ${v}`);
  if (!/^[A-Za-z0-9_.-]+$/.test(p.label) || !/^[A-Za-z0-9_.-]+$/.test(p.service)) throw new Error("label and service may hold only letters, digits, '.', '_' and '-'");
}

/** Tag for bash text: raw (backslashes kept), with `\${` turned into `${`. */
function bash(strings: TemplateStringsArray): string {
  return strings.raw.join("").replace(/\\\$\{/g, "${");
}

function header(p: PushParams, what: string): string {
  checkParams(p);
  const f = pushFiles(p.targetPath);
  const v = p.verify;
  return `#!/usr/bin/env bash
# Generated by the ingress-haproxy Pulumi program: ${what}
set -euo pipefail
umask 077

LABEL=${shellQuote(p.label)}
SERVICE=${shellQuote(p.service)}
TARGET=${shellQuote(p.targetPath)}
BACKUP=${shellQuote(f.backup)}
ORIG=${shellQuote(f.orig)}
ORIG_ABSENT=${shellQuote(f.origAbsent)}
LOCK=${shellQuote(f.lock)}
# Run later with bash -c: a $ in it must not expand here.
# shellcheck disable=SC2016
VALIDATE_COMMAND=${shellQuote(p.validateCommand)}
# Run later with bash -c: a $ in it must not expand here.
# shellcheck disable=SC2016
PRE_RELOAD_CHECK=${shellQuote(p.preReloadCheck ?? "")}
# Run later with bash -c: a $ in it must not expand here.
# shellcheck disable=SC2016
RELOAD_COMMAND=${shellQuote(p.reloadCommand)}
VERIFY_KIND=${shellQuote(v.kind)}
PID_FILE=${shellQuote(v.kind === "haproxy-master-worker" ? v.pidFile : "")}
# Run later with bash -c: a $ in it must not expand here.
# shellcheck disable=SC2016
VERIFY_COMMAND=${shellQuote(v.kind === "command" ? v.command : "")}
LOCK_TIMEOUT=${p.lockTimeoutSeconds}
VERIFY_TIMEOUT=${p.verifyTimeoutSeconds}
FILE_MODE=${p.fileMode}
`;
}

// Shared functions, as the bash they are: String.raw keeps backslashes, and `\${` (escaped so the
// template does not interpolate) is turned back into `${`.
const LIBRARY = bash`
TEMP_FILES=()
cleanup() {
  local f
  for f in "\${TEMP_FILES[@]}"; do rm -f -- "$f"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# fail MESSAGE [CODE]: the one-line reason, last on stderr.
fail() {
  echo "$1" >&2
  exit "\${2:-1}"
}

sha_of() {
  local sum
  sum=$(sha256sum -- "$1")
  echo "\${sum%% *}"
}

# new_temp: sets TEMP to a new temp file beside the target (same filesystem: mv is an atomic
# rename); the EXIT trap removes it if it is still there.
TEMP=""
new_temp() {
  TEMP=$(mktemp -- "$TARGET.push.XXXXXX") || fail "cannot create a temp file beside $TARGET"
  TEMP_FILES+=("$TEMP")
}

# install_file SRC: atomically replace TARGET with a copy of SRC.
install_file() {
  local t
  new_temp
  t=$TEMP
  cat -- "$1" > "$t"
  chmod "$FILE_MODE" "$t"
  sync -- "$t" 2>/dev/null || true
  mv -f -- "$t" "$TARGET"
}

# copy_aside SRC DST: atomically write DST as a copy of SRC (mode and times kept).
copy_aside() {
  local t
  new_temp
  t=$TEMP
  cp -p -- "$1" "$t"
  mv -f -- "$t" "$2"
}

# validate FILE: prints nothing on success; on failure prints the first error line.
validate() {
  local out line first=""
  if out=$(CONFIG="$1" bash -c "$VALIDATE_COMMAND" 2>&1); then return 0; fi
  printf '%s\n' "$out" >&2
  while IFS= read -r line; do
    line=\${line//"$1"/"new $LABEL"}
    [[ -z $first && -n $line ]] && first=$line
    if [[ $line == *ALERT* ]]; then first=$line; break; fi
  done <<< "$out"
  # Drop HAProxy's "[ALERT]    (pid) : " prefix: the pid changes on every run.
  first=$(sed -E 's/^\[[A-Z]+\] +\([0-9]+\) : //' <<< "$first")
  echo "\${first:-validate command exited non-zero}"
  return 1
}

# pre_reload_check FILE [SUFFIX]: runs PRE_RELOAD_CHECK (if any) on FILE; on failure exits 1 with its
# last output line (+ SUFFIX), earlier lines on stderr. Nothing has been changed at that point.
pre_reload_check() {
  local out rc last
  [[ -n $PRE_RELOAD_CHECK ]] || return 0
  if out=$(CONFIG="$1" bash -c "$PRE_RELOAD_CHECK" 2>&1 9>&-); then return 0; else rc=$?; fi
  out=\${out//"$1"/"new $LABEL"}
  last=\${out##*$'\n'}
  [[ $out == *$'\n'* ]] && printf '%s\n' "\${out%$'\n'*}" >&2
  fail "\${last:-pre-reload check failed (exit $rc)}\${2:-}"
}

now_ms() {
  local t=\${EPOCHREALTIME/[.,]/}
  echo $((t / 1000))
}

# master_pid: the live HAProxy master named by PID_FILE, or nothing.
master_pid() {
  local pid comm
  [[ -r $PID_FILE ]] || return 0
  read -r pid < "$PID_FILE" || return 0
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm ]] || return 0
  read -r comm < "/proc/$pid/comm" || return 0
  [[ $comm == haproxy* ]] && echo "$pid"
  return 0
}

# workers_of PID: live (not zombie) children of PID, one per line.
workers_of() {
  local d stat rest state ppid
  for d in /proc/[0-9]*; do
    { read -r stat < "$d/stat"; } 2>/dev/null || continue
    rest=\${stat##*) }
    read -r state ppid _ <<< "$rest"
    [[ $ppid == "$1" && $state != Z ]] && echo "\${d#/proc/}"
  done
  return 0
}

is_worker_of() {
  local stat rest state ppid
  { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
  rest=\${stat##*) }
  read -r state ppid _ <<< "$rest"
  [[ $ppid == "$2" && $state != Z ]]
}

# running: is the service up right now?
running() {
  local master
  case $VERIFY_KIND in
    haproxy-master-worker)
      master=$(master_pid)
      [[ -n $master && -n $(workers_of "$master") ]]
      ;;
    command) bash -c "$VERIFY_COMMAND" > /dev/null 2>&1 9>&- ;;
    *) return 0 ;;
  esac
}

WORKERS_BEFORE=" "
NEW_WORKER=""
snapshot() {
  local master
  WORKERS_BEFORE=" "
  [[ $VERIFY_KIND == haproxy-master-worker ]] || return 0
  master=$(master_pid)
  [[ -n $master ]] || return 0
  WORKERS_BEFORE=" $(workers_of "$master" | tr '\n' ' ')"
}

# reload_and_verify: runs the reload command and proves it took. On failure sets REASON.
REASON=""
reload_and_verify() {
  local out rc deadline master w
  snapshot
  # 9>&-: a daemon the command starts must not inherit (and hold) the push lock.
  if out=$(bash -c "$RELOAD_COMMAND" 2>&1 9>&-); then rc=0; else rc=$?; fi
  [[ -n $out ]] && printf '%s\n' "$out" >&2
  if ((rc != 0)); then
    REASON="reload command failed (exit $rc): $(tail -n 1 <<< "$out")"
    return 1
  fi
  deadline=$(( $(now_ms) + VERIFY_TIMEOUT * 1000 ))
  case $VERIFY_KIND in
    haproxy-master-worker)
      while (( $(now_ms) < deadline )); do
        master=$(master_pid)
        if [[ -n $master ]]; then
          for w in $(workers_of "$master"); do
            [[ $WORKERS_BEFORE == *" $w "* ]] && continue
            # A new worker; it must still be serving a moment later.
            sleep 1
            if is_worker_of "$w" "$master"; then
              NEW_WORKER=$w
              return 0
            fi
          done
        fi
        sleep 0.2
      done
      REASON="reload did not start a new worker within \${VERIFY_TIMEOUT}s"
      return 1
      ;;
    command)
      while (( $(now_ms) < deadline )); do
        if bash -c "$VERIFY_COMMAND" > /dev/null 2>&1 9>&-; then return 0; fi
        sleep 0.5
      done
      REASON="verify command did not succeed within \${VERIFY_TIMEOUT}s"
      return 1
      ;;
  esac
  return 0
}

# rollback SRC: put SRC back as the live file and reload. HAProxy 2.6 drops a reload signal that
# arrives while the master is still recovering from a failed reload, so the reload is tried twice.
rollback() {
  local attempt
  install_file "$1"
  for attempt in 1 2; do
    if reload_and_verify; then return 0; fi
    echo "rollback reload attempt $attempt: $REASON" >&2
  done
  return 1
}

report_sha() {
  if [[ -e $TARGET ]]; then echo "live $LABEL sha256 $(sha_of "$TARGET")"; fi
}

take_lock() {
  exec 9>> "$LOCK" || fail "cannot open lock file $LOCK"
  flock -w "$LOCK_TIMEOUT" 9 || fail "lock held by another push for \${LOCK_TIMEOUT}s"
}

# swap_in NEW: backup, atomic swap, reload, verify; on failure restore the backup and exit non-zero.
swap_in() {
  local new=$1 failure
  if [[ -e $TARGET ]]; then copy_aside "$TARGET" "$BACKUP"; fi
  install_file "$new"
  echo "installed $TARGET (sha256 $(sha_of "$TARGET"))"
  if reload_and_verify; then
    if [[ -n $NEW_WORKER ]]; then echo "reloaded $SERVICE: new worker $NEW_WORKER is serving"; else echo "reloaded $SERVICE"; fi
    return 0
  fi
  failure=$REASON
  echo "$failure; rolling back" >&2
  if [[ ! -e $BACKUP ]]; then
    rm -f -- "$TARGET"
    report_sha >&2
    fail "$failure; there was no previous $LABEL: removed the new one"
  fi
  if rollback "$BACKUP"; then
    report_sha >&2
    fail "$failure; restored the previous $LABEL"
  fi
  report_sha >&2
  fail "$failure; restoring the previous $LABEL failed too ($REASON): $SERVICE needs attention" 2
}
`;

/** The push script: stdin = the new file content. */
export function renderPushScript(p: PushParams): string {
  return (
    header(p, `push ${p.label} from stdin to ${p.targetPath}`) +
    LIBRARY +
    bash`
new_temp
NEW=$TEMP
cat > "$NEW"
[[ -s $NEW ]] || fail "no $LABEL on stdin (empty input); nothing changed"
if ! reason=$(validate "$NEW"); then fail "validation failed: $reason"; fi
echo "validated new $LABEL (sha256 $(sha_of "$NEW"))"

take_lock

if [[ -e $TARGET && $(sha_of "$NEW") == "$(sha_of "$TARGET")" ]] && running; then
  echo "unchanged: $TARGET already has these bytes and $SERVICE is running; nothing to do"
  report_sha
  exit 0
fi
if [[ $VERIFY_KIND == haproxy-master-worker && -z $(master_pid) ]]; then
  fail "$SERVICE is not running (no live master in $PID_FILE); start it, then push again; nothing changed"
fi
pre_reload_check "$NEW"

# First push on this host: remember what was here, for destroy.
if [[ ! -e $ORIG && ! -e $ORIG_ABSENT ]]; then
  if [[ -e $TARGET ]]; then
    copy_aside "$TARGET" "$ORIG"
    echo "first push: kept the original as $ORIG"
  else
    new_temp
    echo "There was no $TARGET before the first push by ingress-haproxy." > "$TEMP"
    mv -f -- "$TEMP" "$ORIG_ABSENT"
    echo "first push: there was no $TARGET before (recorded in $ORIG_ABSENT)"
  fi
fi

swap_in "$NEW"
report_sha
`
  );
}

/** The destroy script for onDestroy "restore": puts back the `.orig` kept by the first push. */
export function renderRestoreScript(p: PushParams): string {
  return (
    header(p, `restore the original ${p.targetPath} (destroy)`) +
    LIBRARY +
    bash`
take_lock

if [[ ! -e $ORIG ]]; then
  if [[ -e $ORIG_ABSENT ]]; then
    echo "there was no $TARGET before the first push; leaving the last pushed $LABEL in place"
  else
    echo "no $ORIG here (no push recorded an original); leaving $TARGET in place"
  fi
  report_sha
  exit 0
fi

new_temp
NEW=$TEMP
cat -- "$ORIG" > "$NEW"
if ! reason=$(validate "$NEW"); then fail "validation failed: original $reason; left the pushed $LABEL in place"; fi

if [[ -e $TARGET && $(sha_of "$NEW") == "$(sha_of "$TARGET")" ]] && running; then
  echo "unchanged: $TARGET is already the original"
else
  if [[ $VERIFY_KIND == haproxy-master-worker && -z $(master_pid) ]]; then
    fail "$SERVICE is not running (no live master in $PID_FILE); start it, then destroy again; nothing changed"
  fi
  pre_reload_check "$NEW" "; left the pushed $LABEL in place"
  swap_in "$NEW"
  echo "restored the original $LABEL from $ORIG"
fi
rm -f -- "$ORIG"
report_sha
`
  );
}

/**
 * The haproxy.cfg pre-reload check (PushParams.preReloadCheck): can the candidate in `$CONFIG` bind
 * everything it lists? A `bind` that passes `haproxy -c` but cannot bind makes HAProxy 2.6 pause the
 * old worker's listeners (new connections refused for ~2 s) before the push can roll back; this
 * catches the two usual causes first:
 *
 * - an address that is not this host's: each bind address must be a wildcard (`*`, `0.0.0.0`, `::`,
 *   empty), listed by `ip -o addr`, or routed locally (`ip route get` says `local`: 127.0.3.1 on lo's
 *   127.0.0.0/8), unless `net.ipv4|ipv6.ip_nonlocal_bind` is 1 or the bind has `transparent`/`freebind`;
 * - a port another process listens on: every listener of `ss -Hltnp` on a bind port whose address
 *   overlaps (same address, or a wildcard on either side) must be the running haproxy (the master in
 *   `pidFile` or its children). Run as root, a listener `ss` shows no holder for is someone else's
 *   (another PID namespace); not root, it is not judged (it may be haproxy's).
 *
 * Binds it cannot read (`unix@`, `fd@`, `namespace`, environment variables) are left to the reload
 * and its rollback. Silent on success; otherwise one line `bind check failed: …` and exit 1.
 */
export function renderBindCheck(pidFile: string): string {
  return `# Pre-reload bind check for the candidate haproxy.cfg in $CONFIG (generated by ingress-haproxy).
set -euo pipefail
pid_file=${shellQuote(pidFile)}
` + BIND_CHECK;
}

const BIND_CHECK = bash`
fail() {
  echo "bind check failed: $1"
  exit 1
}
for tool in ip ss; do
  command -v "$tool" > /dev/null || fail "$tool not found on this host (install iproute2)"
done
[[ -r \${CONFIG:-} ]] || fail "cannot read the candidate file"

# The running haproxy: the master in the pid file and its children (workers, old workers).
own=" "
master=""
{ read -r master < "$pid_file"; } 2> /dev/null || true
if [[ $master =~ ^[0-9]+$ ]]; then
  own+="$master "
  for d in /proc/[0-9]*; do
    { read -r stat < "$d/stat"; } 2> /dev/null || continue
    rest=\${stat##*) }
    read -r _ ppid _ <<< "$rest"
    if [[ $ppid == "$master" ]]; then own+="\${d#/proc/} "; fi
  done
fi

addresses_out=$(ip -o addr show) || fail "ip -o addr show failed"
host_addresses=" "
while read -r _ _ _ cidr _; do host_addresses+="\${cidr%%/*} "; done <<< "$addresses_out"
host_addresses=\${host_addresses,,}

# Listening TCP sockets by port: one "address|users" line each.
listen_out=$(ss -Hltnp) || fail "ss -Hltnp failed"
declare -A listeners=()
while read -r _ _ _ local_address _ users; do
  [[ $local_address == *:* ]] || continue
  lport=\${local_address##*:}
  lhost=\${local_address%:*}
  lhost=\${lhost%%%*}
  lhost=\${lhost#"["}
  lhost=\${lhost%"]"}
  listeners[$lport]+="$lhost|$users"$'\n'
done <<< "$listen_out"

family() {
  if [[ $1 == *:* ]]; then echo 6; else echo 4; fi
}
is_wildcard() {
  [[ -z $1 || $1 == "*" || $1 == 0.0.0.0 || $1 =~ ^[0:]+$ ]]
}
nonlocal_bind() {
  local v=0
  { read -r v < "/proc/sys/net/ipv$1/ip_nonlocal_bind"; } 2> /dev/null || true
  [[ $v == 1 ]]
}
is_host_address() {
  local route
  [[ $host_addresses == *" \${1,,} "* ]] && return 0
  route=$(ip -o route get "$1" 2> /dev/null) || return 1
  [[ $route == "local "* ]]
}
# overlaps BIND LISTENER: would a bind on BIND collide with a listener on LISTENER (same port)?
overlaps() {
  local b=\${1,,} l=\${2,,}
  [[ -z $b || $b == "*" || $l == "*" ]] && return 0
  [[ $(family "$b") == "$(family "$l")" ]] || return 1
  is_wildcard "$b" || is_wildcard "$l" || [[ $b == "$l" ]]
}
# foreign_holder USERS: "name (pid N)" of the first holder that is not the running haproxy. No holder
# shown: as root that is a process out of sight (another PID namespace); otherwise it cannot be told.
foreign_holder() {
  local users=$1 re='[(]"([^"]*)",pid=([0-9]+),'
  if [[ ! $users =~ $re ]]; then
    if ((EUID == 0)); then echo "a process ss cannot show (another PID namespace?)"; fi
    return 0
  fi
  while [[ $users =~ $re ]]; do
    if [[ $own != *" \${BASH_REMATCH[2]} "* ]]; then
      echo "\${BASH_REMATCH[1]} (pid \${BASH_REMATCH[2]})"
      return 0
    fi
    users=\${users#*"\${BASH_REMATCH[0]}"}
  done
}

while read -r keyword spec options; do
  [[ $keyword == bind ]] || continue
  [[ " $options " == *" namespace "* ]] && continue
  freebind=0
  [[ " $options " == *" transparent "* || " $options " == *" freebind "* ]] && freebind=1
  IFS=, read -ra entries <<< "$spec"
  for address in "\${entries[@]}"; do
    case $address in
      ipv4@* | ipv6@* | tcp@* | tcp4@* | tcp6@*) address=\${address#*@} ;;
      *@* | /* | *\$* | *\"*) continue ;;
    esac
    [[ $address == *:* ]] || continue
    if [[ $address == "["* ]]; then
      host=\${address%%]*}
      host=\${host#"["}
      ports=\${address##*]:}
    else
      host=\${address%:*}
      ports=\${address##*:}
    fi
    [[ $ports =~ ^([0-9]+)(-([0-9]+))?$ ]] || continue
    first=$((10#\${BASH_REMATCH[1]}))
    last=$((10#\${BASH_REMATCH[3]:-\${BASH_REMATCH[1]}}))
    if ! is_wildcard "$host" && ((freebind == 0)) && ! nonlocal_bind "$(family "$host")" && ! is_host_address "$host"; then
      fail "$address is not an address of this host"
    fi
    for ((port = first; port <= last; port++)); do
      while IFS="|" read -r lhost users; do
        [[ -n $lhost ]] || continue
        overlaps "$host" "$lhost" || continue
        holder=$(foreign_holder "$users")
        [[ -z $holder ]] || fail "port $port is held by $holder"
      done <<< "\${listeners[$port]:-}"
    done
  done
done < "$CONFIG"
`;
