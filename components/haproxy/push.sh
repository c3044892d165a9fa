#!/usr/bin/env bash
# The transactional push of one config file (haproxy.cfg or keepalived.conf) to the host it runs on.
#
# The program (components/haproxy/push-script.ts) runs this text with `bash -c` over SSH and sets the
# parameters below by prepending quoted assignments; to run it by hand, export them instead.
# MODE=push reads the file on stdin; MODE=restore (destroy) puts back the file found before the first
# push. With DIGEST_KIND=hmac-sha256 the first stdin line is `digest-key <64 hex>` (the key of the
# keyed digests; it never appears in an argument list or in the output).
#
# Guarantee (README "The push guarantee"): after any exit, signal, lost session or SIGKILL, the live
# file is the last verified config or the new one, verified; a plain re-run converges. How:
#  - the candidate is checked against EXPECT_BYTES / EXPECT_DIGEST (truncated or corrupted input is
#    refused before validation), validated, and staged beside the live file together with a copy of
#    the last verified config (<file>.rollback) and of the candidate (<file>.good.next): every write
#    that needs space happens before the swap, so a full filesystem refuses instead of half-pushing;
#  - a one-line journal (<file>.journal, rewritten in place) records each step; a guard process waits
#    for this one and undoes a push that died after the swap (SIGKILL); the next run does the same if
#    the guard died too;
#  - <file>.good (the last verified config) is replaced only after a verified reload;
#  - every rollback step is checked; outputs are best effort (SIGPIPE ignored).
# Exit codes: 0 done, 1 refused (nothing changed), 2 failed after the swap and the last verified
# config is back and serving, 3 restoring failed too (needs attention). The last line says which.
# A && B || C is meant: C (the failure path) runs when any of A, B fails.
# shellcheck disable=SC2015
# Functions run from traps (cleanup, on_signal) look unreachable to shellcheck.
# shellcheck disable=SC2317
set -euo pipefail
umask 077
trap '' PIPE

: "${MODE:?MODE must be push or restore}" "${LABEL:?}" "${SERVICE:?}" "${TARGET:?}" "${VALIDATE_COMMAND:?}" "${RELOAD_COMMAND:?}"
BIND_CHECK=${BIND_CHECK:-}
BIND_CHECK_BEFORE_RELOAD=${BIND_CHECK_BEFORE_RELOAD:-1}
VERIFY_KIND=${VERIFY_KIND:-none}
PID_FILE=${PID_FILE:-}
RELOAD_MARKER=${RELOAD_MARKER:-}
VERIFY_COMMAND=${VERIFY_COMMAND:-}
LOCK_TIMEOUT=${LOCK_TIMEOUT:-60}
VERIFY_TIMEOUT=${VERIFY_TIMEOUT:-15}
FILE_MODE=${FILE_MODE:-0600}
DIGEST_KIND=${DIGEST_KIND:-sha256}
EXPECT_BYTES=${EXPECT_BYTES:-}
EXPECT_DIGEST=${EXPECT_DIGEST:-}
GENERATION=${GENERATION:-0}
OWNER=${OWNER:--}
# OWNER is <project>:<stack>:<resource>. A push refuses a host whose verified config another stack
# pushed, unless TAKE_OVER_FROM names that stack (<project>:<stack>).
TAKE_OVER_FROM=${TAKE_OVER_FROM:-}
RESTORE_OVER_EDITS=${RESTORE_OVER_EDITS:-0}
# Test seam only (the program never sets it): pause at a step while $HOOK_DIR/pause-<step> exists.
HOOK_DIR=${HOOK_DIR:-}

# ---- output: best effort, never decides the outcome -------------------------------------------------
say() { printf '%s\n' "$*" 2> /dev/null || true; }
warn() { printf '%s\n' "$*" >&2 2> /dev/null || true; }
# finish CODE MESSAGE: the last line (stdout when 0, else stderr) and the exit.
finish() {
  if (($1 == 0)); then say "$2"; else warn "$2"; fi
  exit "$1"
}
refuse() { finish 1 "$1; nothing changed"; }

# ---- digests ------------------------------------------------------------------------------------------
DIGEST_KEY=""
sha256_hex() {
  local sum
  sum=$(sha256sum -- "$1") || return 1
  printf '%s\n' "${sum%% *}"
}
# hex_escapes HEX: the bytes as printf %b escapes.
hex_escapes() {
  local hex=$1 out="" i
  for ((i = 0; i < ${#hex}; i += 2)); do out+="\\x${hex:i:2}"; done
  printf '%s' "$out"
}
# hmac_hex FILE: HMAC-SHA256 (RFC 2104) of FILE with DIGEST_KEY, in bash + sha256sum (no key in argv).
hmac_hex() {
  local key=$DIGEST_KEY ipad="" opad="" i b esc inner outer
  while ((${#key} < 128)); do key+=00; done
  for ((i = 0; i < 128; i += 2)); do
    b=$((16#${key:i:2}))
    printf -v esc '\\x%02x\\x%02x' $((b ^ 0x36)) $((b ^ 0x5c))
    ipad+=${esc:0:4}
    opad+=${esc:4:4}
  done
  inner=$({ printf '%b' "$ipad" && cat -- "$1"; } | sha256sum) || return 1
  outer=$({ printf '%b' "$opad" && printf '%b' "$(hex_escapes "${inner%% *}")"; } | sha256sum) || return 1
  printf '%s\n' "${outer%% *}"
}
# digest_of FILE: "sha256:<hex>", or "hmac-sha256:<hex>" for files that hold secrets. Only these are
# ever printed or compared with what the program sent.
digest_of() {
  local hex
  if [[ $DIGEST_KIND == hmac-sha256 ]]; then hex=$(hmac_hex "$1") || return 1; else hex=$(sha256_hex "$1") || return 1; fi
  printf '%s:%s\n' "$DIGEST_KIND" "$hex"
}

# ---- files --------------------------------------------------------------------------------------------
# The live file; a symlinked TARGET is resolved (the link stays, the file it points to is replaced).
REAL=$(readlink -f -- "$TARGET") || refuse "cannot resolve $TARGET"
[[ -n $REAL && -d $(dirname -- "$REAL") ]] || refuse "the directory of $TARGET does not exist"
DIR=$(dirname -- "$REAL")
GOOD=$REAL.good
ORIG=$REAL.orig
ORIG_ABSENT=$REAL.orig-absent
LOCK=$REAL.lock
JOURNAL=$REAL.journal
STAGED=$REAL.new
ROLLBACK=$REAL.rollback
GOOD_NEXT=$REAL.good.next

TEMP_FILES=()
GUARD_PID=""
cleanup() {
  local f
  for f in "${TEMP_FILES[@]}"; do rm -f -- "$f"; done
  if [[ -n $GUARD_PID ]]; then kill -KILL "$GUARD_PID" 2> /dev/null || true; fi
}
trap cleanup EXIT

# new_temp: sets TEMP to a new temp file beside the live file (same filesystem: mv is atomic).
TEMP=""
new_temp() {
  TEMP=$(mktemp -- "$REAL.push.XXXXXX") || return 1
  TEMP_FILES+=("$TEMP")
}
# sync_paths PATH...: fsync each file or directory.
sync_paths() { sync -- "$@"; }
# copy_to SRC DST: DST becomes a synced copy of SRC with SRC's owner, group and mode (atomic rename).
copy_to() {
  new_temp && cp -p -- "$1" "$TEMP" && sync_paths "$TEMP" && mv -f -- "$TEMP" "$2" && sync_paths "$DIR"
}
# nap SECONDS: sleep without a fork (read -t on a pipe nobody writes; {fd} needs bash 4.1).
NAP_FD=""
nap() {
  [[ -n $NAP_FD ]] || exec {NAP_FD}<> <(:)
  read -r -t "$1" -u "$NAP_FD" _ || true
  check_signal
}
hook() {
  [[ -n $HOOK_DIR && -e $HOOK_DIR/pause-$1 ]] || return 0
  printf '%s %s\n' "$BASHPID" "$GUARD_PID" > "$HOOK_DIR/at-$1"
  while [[ -e $HOOK_DIR/pause-$1 ]]; do nap 0.05; done
  check_signal
}

# ---- journal: one fixed-width line rewritten in place (no new blocks: works on a full filesystem) ----
# Fields: step, generation and owner (resource) of the verified config, then those of the push in flight
# and the sha256 of its file (the journal sits beside the file: a plain sha256 there reveals nothing).
J_STATE=idle J_GEN=0 J_OWNER=- J_NEW_GEN=0 J_NEW_OWNER=- J_NEW_SHA=-
journal_read() {
  J_STATE=idle J_GEN=0 J_OWNER=- J_NEW_GEN=0 J_NEW_OWNER=- J_NEW_SHA=-
  [[ -s $JOURNAL ]] || return 0
  read -r J_STATE J_GEN J_OWNER J_NEW_GEN J_NEW_OWNER J_NEW_SHA < "$JOURNAL" || return 1
  [[ $J_GEN =~ ^[0-9]+$ && $J_NEW_GEN =~ ^[0-9]+$ ]] || return 1
}
# journal STATE: records STATE with the J_* fields (a step: first acts on a signal caught meanwhile).
journal() {
  check_signal
  J_STATE=$1
  printf '%-250s\n' "$J_STATE $J_GEN $J_OWNER $J_NEW_GEN $J_NEW_OWNER $J_NEW_SHA" 1<> "$JOURNAL" && sync_paths "$JOURNAL"
}

# ---- the service ----------------------------------------------------------------------------------
# validate FILE: silent on success; else prints the first error line (ALERT first).
validate() {
  local out line first=""
  if out=$(CONFIG="$1" bash -c "$VALIDATE_COMMAND" 2>&1 9>&-); then return 0; fi
  warn "$out"
  while IFS= read -r line; do
    line=${line//"$1"/"new $LABEL"}
    [[ -z $first && -n $line ]] && first=$line
    if [[ $line == *ALERT* ]]; then first=$line; break; fi
  done <<< "$out"
  # Drop HAProxy's "[ALERT]    (pid) : " prefix: the pid changes on every run.
  first=$(sed -E 's/^\[[A-Z]+\] +\([0-9]+\) : //' <<< "$first")
  printf '%s\n' "${first:-validate command exited non-zero}"
  return 1
}

# bind_check FILE: the haproxy pre-reload bind check (bind-check.sh); prints its reason on failure.
bind_check() {
  local out
  [[ -n $BIND_CHECK && $BIND_CHECK_BEFORE_RELOAD == 1 ]] || return 0
  if out=$(CONFIG="$1" bash -c "$BIND_CHECK" 2>&1 9>&-); then return 0; fi
  out=${out//"$1"/"new $LABEL"}
  printf '%s\n' "${out##*$'\n'}"
  return 1
}

# master_pid: the live HAProxy master named by PID_FILE, or nothing.
master_pid() {
  local pid comm
  { read -r pid < "$PID_FILE"; } 2> /dev/null || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  { read -r comm < "/proc/$pid/comm"; } 2> /dev/null || return 0
  [[ $comm == haproxy* ]] && echo "$pid"
  return 0
}
# is_alive PID: running and not a zombie.
is_alive() {
  local stat
  { read -r stat < "/proc/$1/stat"; } 2> /dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}
# workers_of PID: live children of PID, one per line.
workers_of() {
  local d stat rest state ppid
  for d in /proc/[0-9]*; do
    { read -r stat < "$d/stat"; } 2> /dev/null || continue
    rest=${stat##*) }
    read -r state ppid _ <<< "$rest"
    [[ $ppid == "$1" && $state != Z ]] && echo "${d#/proc/}"
  done
  return 0
}

# serves_all PID FILE: PID holds every TCP bind of FILE, and each one on an address this host holds
# accepts a connection. Sets REASON.
serves_all() {
  local binds listeners host first last port want lhost lport users line found connect_to count=0
  binds=$(CONFIG="$2" LIST_BINDS=1 bash -c "$BIND_CHECK" 2>&1 9>&-) || { REASON="cannot list the binds: $binds"; return 1; }
  listeners=$(ss -Hltnp 2> /dev/null) || { REASON="ss -Hltnp failed"; return 1; }
  while read -r host first last _; do
    [[ -n $first ]] || continue
    for ((port = first; port <= last; port++)); do
      count=$((count + 1))
      want=${host,,}
      case $want in "" | "*" | 0.0.0.0) want=0.0.0.0 connect_to=127.0.0.1 ;; :: | "[::]") want=:: connect_to=::1 ;; *) connect_to=$host ;; esac
      found=0
      while read -r _ _ _ line users; do
        lport=${line##*:}
        lhost=${line%:*}
        lhost=${lhost#"["}
        lhost=${lhost%"]"}
        lhost=${lhost%%%*}
        [[ $lport == "$port" ]] || continue
        [[ ${lhost,,} == "$want" || ($lhost == "*" && $want == 0.0.0.0) ]] || continue
        [[ $users == *"pid=$1,"* ]] && found=1
      done <<< "$listeners"
      if ((found == 0)); then REASON="the new workers do not hold $host:$port"; return 1; fi
      # A floating address this host does not hold now (nonlocal bind, keepalived BACKUP): a connection
      # to it would leave the host, so holding the socket is all that can be proved here.
      if [[ $connect_to == "$host" && -z $(ip -o addr show to "$host" 2> /dev/null) ]]; then continue; fi
      # shellcheck disable=SC2016 # $0 and $1 expand in the inner bash.
      if ! timeout 2 bash -c 'exec 3<> "/dev/tcp/$0/$1"' "$connect_to" "$port" 2> /dev/null 9>&-; then
        REASON="$host:$port does not accept connections"
        return 1
      fi
    done
  done <<< "$binds"
  if ((count == 0)); then REASON="the new $LABEL binds nothing"; return 1; fi
}

# running: is the service up and (haproxy) serving the live file's binds right now?
running() {
  local master w
  case $VERIFY_KIND in
    haproxy-master-worker)
      master=$(master_pid)
      [[ -n $master ]] || return 1
      for w in $(workers_of "$master"); do
        if serves_all "$w" "$REAL"; then return 0; fi
      done
      return 1
      ;;
    keepalived-reload-file | command) bash -c "$VERIFY_COMMAND" > /dev/null 2>&1 9>&- ;;
    *) return 0 ;;
  esac
}

# reload_and_verify: runs the reload command (bounded by VERIFY_TIMEOUT) and proves it took.
# On failure sets REASON. Only explicit checks: safe to call in an `if`.
REASON=""
NEW_WORKER=""
reload_and_verify() {
  local out rc deadline master w before=" "
  NEW_WORKER=""
  if [[ $VERIFY_KIND == haproxy-master-worker ]]; then
    master=$(master_pid)
    [[ -n $master ]] && before=" $(workers_of "$master" | tr '\n' ' ')"
  fi
  if [[ $VERIFY_KIND == keepalived-reload-file ]]; then
    # keepalived deletes its reload_file once it has read the new config: the proof the reload took.
    printf 'reload requested by the ingress-haproxy push\n' > "$RELOAD_MARKER" || { REASON="cannot write the reload marker $RELOAD_MARKER"; return 1; }
  fi
  hook reloading
  # 9>&-: a daemon the command starts must not inherit (and hold) the push lock.
  if out=$(timeout "$VERIFY_TIMEOUT" bash -c "$RELOAD_COMMAND" 2>&1 9>&-); then rc=0; else rc=$?; fi
  [[ -n $out ]] && warn "$out"
  if ((rc == 124)); then REASON="reload command did not finish within ${VERIFY_TIMEOUT}s"; return 1; fi
  if ((rc != 0)); then REASON="reload command failed (exit $rc): ${out##*$'\n'}"; return 1; fi
  hook verifying
  # SECONDS (bash's own clock, whole seconds): the window is VERIFY_TIMEOUT to VERIFY_TIMEOUT + 1 s.
  deadline=$((SECONDS + VERIFY_TIMEOUT + 1))
  case $VERIFY_KIND in
    haproxy-master-worker)
      local seen=""
      while ((SECONDS < deadline)); do
        master=$(master_pid)
        for w in ${master:+$(workers_of "$master")}; do
          [[ $before == *" $w "* ]] && continue
          if serves_all "$w" "$REAL"; then NEW_WORKER=$w; return 0; fi
          seen=$w
        done
        nap 0.1
      done
      if [[ -n $seen ]]; then REASON="new worker $seen did not serve within ${VERIFY_TIMEOUT}s: $REASON"; else REASON="reload did not start a new worker within ${VERIFY_TIMEOUT}s"; fi
      return 1
      ;;
    keepalived-reload-file)
      while [[ -e $RELOAD_MARKER ]] && ((SECONDS < deadline)); do nap 0.1; done
      if [[ -e $RELOAD_MARKER ]]; then
        rm -f -- "$RELOAD_MARKER"
        REASON="$SERVICE did not reload within ${VERIFY_TIMEOUT}s (it did not take its reload marker)"
        return 1
      fi
      ;&
    command)
      while ((SECONDS < deadline)); do
        if bash -c "$VERIFY_COMMAND" > /dev/null 2>&1 9>&-; then return 0; fi
        nap 0.2
      done
      REASON="verify command did not succeed within ${VERIFY_TIMEOUT}s"
      return 1
      ;;
  esac
  return 0
}

# ---- the transaction ----------------------------------------------------------------------------------
# put_back_good: the live file becomes the last verified config again (or, when there never was one,
# disappears), checked; reload and verify, twice if needed (HAProxy 2.6 drops a reload signal that
# arrives while it recovers from a failed one). Sets REASON on failure.
put_back_good() {
  local attempt want
  journal rolling-back || true
  hook rolling-back
  if [[ -e $GOOD ]]; then
    if [[ ! -e $ROLLBACK ]]; then
      new_temp && cp -p -- "$GOOD" "$TEMP" && sync_paths "$TEMP" && mv -f -- "$TEMP" "$ROLLBACK" || { REASON="cannot copy $GOOD"; return 1; }
    fi
    mv -f -- "$ROLLBACK" "$REAL" && sync_paths "$DIR" || { REASON="cannot put $GOOD back"; return 1; }
    want=$(sha256_hex "$GOOD") && [[ $(sha256_hex "$REAL") == "$want" ]] || { REASON="the restored $LABEL does not match $GOOD"; return 1; }
  else
    rm -f -- "$REAL" && sync_paths "$DIR" || { REASON="cannot remove the new $LABEL"; return 1; }
    journal idle || true
    return 0
  fi
  for attempt in 1 2; do
    if reload_and_verify; then
      journal idle || { REASON="cannot write $JOURNAL"; return 1; }
      rm -f -- "$GOOD_NEXT" "$STAGED"
      return 0
    fi
    warn "rollback reload attempt $attempt: $REASON"
  done
  return 1
}

# commit: the verified live file becomes the last verified config.
commit() {
  journal verified || return 1
  hook verified
  if [[ ! -e $GOOD_NEXT ]]; then
    new_temp && cp -p -- "$REAL" "$TEMP" && mv -f -- "$TEMP" "$GOOD_NEXT" || return 1
  fi
  mv -f -- "$GOOD_NEXT" "$GOOD" && sync_paths "$GOOD" "$DIR" || return 1
  J_GEN=$J_NEW_GEN J_OWNER=$J_NEW_OWNER
  journal idle || return 1
  rm -f -- "$ROLLBACK"
}

# recover WHO: finish or undo what the journal says a previous push left half-done.
recover() {
  local was
  journal_read || { REASON="unreadable journal $JOURNAL"; return 1; }
  was=$J_STATE
  case $was in
    idle) rm -f -- "$STAGED" "$ROLLBACK" "$GOOD_NEXT" ;;
    staged) rm -f -- "$STAGED" "$ROLLBACK" "$GOOD_NEXT" && journal idle && say "$1: a push stopped before the swap; removed its staged files" ;;
    verified)
      [[ $(sha256_hex "$REAL") == "$J_NEW_SHA" ]] || { REASON="journal says verified, the live file differs"; put_back_good || return 1; say "$1: restored the last verified $LABEL"; return 0; }
      commit || { REASON="cannot record the verified $LABEL"; return 1; }
      say "$1: finished a push that was verified but not recorded"
      ;;
    *)
      put_back_good || return 1
      say "$1: a push stopped after the swap ($was); restored the last verified $LABEL"
      ;;
  esac
}

# The guard: a child that outlives a SIGKILLed push (it holds the lock too) and undoes its swap.
start_guard() {
  local main=$BASHPID
  (
    trap '' HUP INT TERM PIPE
    exec > /dev/null 2>&1 < /dev/null
    GUARD_PID=""
    CAUGHT=""
    TEMP_FILES=()
    while is_alive "$main"; do nap 0.1; done
    recover "guard" || true
  ) &
  GUARD_PID=$!
}

take_lock() {
  exec 9>> "$LOCK" || refuse "cannot open the lock file $LOCK"
  flock -w "$LOCK_TIMEOUT" 9 || refuse "lock held by another push for ${LOCK_TIMEOUT}s"
  start_guard
  hook locked
  [[ -e $JOURNAL ]] || journal idle || refuse "cannot write $JOURNAL"
  if ! recover "recovered"; then finish 3 "recovering a half-done push failed ($REASON): $SERVICE needs attention"; fi
}

# Signals: the trap only notes the signal; the push acts on it at the next step (check_signal), never
# inside the handler (bash may run a handler inside `read`, where a command substitution breaks it).
SWAPPED=0
COMMITTED=0
CAUGHT=""
check_signal() {
  [[ -n $CAUGHT ]] || return 0
  local sig=$CAUGHT
  CAUGHT=""
  on_signal "$sig"
}
on_signal() {
  trap '' HUP INT TERM
  ((COMMITTED == 0)) || return 0
  if ((SWAPPED == 0)); then
    rm -f -- "$STAGED" "$ROLLBACK" "$GOOD_NEXT"
    [[ $J_STATE == staged ]] && { journal idle || true; }
    finish 1 "interrupted by SIG$1 before the swap; nothing changed"
  fi
  if [[ $J_STATE == verified ]] && commit; then finish 0 "interrupted by SIG$1 after the new $LABEL was verified; recorded it as verified"; fi
  if put_back_good; then finish 2 "interrupted by SIG$1 after the swap; restored the last verified $LABEL"; fi
  finish 3 "interrupted by SIG$1 after the swap; restoring the last verified $LABEL failed ($REASON): $SERVICE needs attention"
}
trap 'CAUGHT=HUP' HUP
trap 'CAUGHT=INT' INT
trap 'CAUGHT=TERM' TERM

# stage CANDIDATE KEEP_ATTRS: writes everything the swap needs while the live file is untouched.
# KEEP_ATTRS=1 keeps CANDIDATE's own owner and mode (restore); else the live file's owner and group,
# and its mode capped by FILE_MODE (never wider than configured).
stage() {
  local mode
  if [[ $2 == 0 ]]; then
    if [[ -e $REAL ]]; then
      chown --reference="$REAL" -- "$1" || refuse "cannot give the new $LABEL the owner of $TARGET"
      mode=$(stat -c %a -- "$REAL") || refuse "cannot read the mode of $TARGET"
      chmod "$(printf '%o' $((8#$mode & 8#$FILE_MODE)))" -- "$1" || refuse "cannot set the mode of the new $LABEL"
    else
      chmod "$FILE_MODE" -- "$1" || refuse "cannot set the mode of the new $LABEL"
    fi
  fi
  hook write-staged
  sync_paths "$1" && mv -f -- "$1" "$STAGED" || refuse "cannot stage the new $LABEL"
  hook write-rollback
  if [[ -e $GOOD ]]; then
    new_temp && cp -p -- "$GOOD" "$TEMP" && sync_paths "$TEMP" && mv -f -- "$TEMP" "$ROLLBACK" || { rm -f -- "$STAGED"; refuse "cannot stage the rollback copy of the last verified $LABEL (disk full?)"; }
  fi
  hook write-good-next
  new_temp && cp -p -- "$STAGED" "$TEMP" && sync_paths "$TEMP" && mv -f -- "$TEMP" "$GOOD_NEXT" && sync_paths "$DIR" || { rm -f -- "$STAGED" "$ROLLBACK"; refuse "cannot stage the copy of the new $LABEL (disk full?)"; }
  J_NEW_GEN=$GENERATION J_NEW_OWNER=$OWNER
  J_NEW_SHA=$(sha256_hex "$STAGED") && journal staged || { rm -f -- "$STAGED" "$ROLLBACK" "$GOOD_NEXT"; refuse "cannot write $JOURNAL"; }
  hook staged
}

# swap_in: install the staged file, reload, verify, commit; on any failure put back the last verified.
swap_in() {
  local digest
  # Only a push whose session is still there installs anything: a push whose `pulumi up` was cancelled
  # or lost (e.g. while it waited for the lock) must not overwrite what a later run pushed meanwhile.
  # Status output is best effort everywhere else; this write is the probe (SIGPIPE is ignored: EPIPE).
  if ! printf 'staged the new %s; swapping it in\n' "$LABEL" 2> /dev/null; then
    rm -f -- "$STAGED" "$ROLLBACK" "$GOOD_NEXT"
    journal idle || true
    refuse "the session was lost before the swap (its output is gone)"
  fi
  journal swapped || { rm -f -- "$STAGED" "$ROLLBACK" "$GOOD_NEXT"; journal idle || true; refuse "cannot write $JOURNAL"; }
  SWAPPED=1
  mv -f -- "$STAGED" "$REAL" && sync_paths "$DIR" || fail_after_swap "cannot install the new $LABEL"
  [[ $(sha256_hex "$REAL") == "$J_NEW_SHA" ]] || fail_after_swap "the installed $LABEL does not match the staged one"
  digest=$(digest_of "$REAL") || fail_after_swap "cannot read the installed $LABEL"
  say "installed $TARGET ($digest)"
  hook swapped
  journal reloading || fail_after_swap "cannot write $JOURNAL"
  reload_and_verify || fail_after_swap "$REASON"
  if [[ -n $NEW_WORKER ]]; then say "reloaded $SERVICE: new worker $NEW_WORKER serves every bind"; else say "reloaded $SERVICE"; fi
  commit || fail_after_swap "cannot record the verified $LABEL"
  COMMITTED=1
}

fail_after_swap() {
  local failure=$1
  trap '' HUP INT TERM
  CAUGHT=""
  warn "$failure; rolling back"
  if put_back_good; then
    if [[ -e $GOOD ]]; then finish 2 "$failure; restored the last verified $LABEL ($(digest_of "$GOOD"))"; fi
    finish 2 "$failure; there was no previous $LABEL: removed the new one"
  fi
  finish 3 "$failure; restoring the last verified $LABEL failed too ($REASON): $SERVICE needs attention"
}

# first_push_record: remember what was here before the first push (for destroy), and take the running
# file as the first verified config when there is none.
first_push_record() {
  hook write-orig
  if [[ ! -e $ORIG && ! -e $ORIG_ABSENT ]]; then
    if [[ -e $REAL ]]; then
      copy_to "$REAL" "$ORIG" || { rm -f -- "$ORIG"; refuse "cannot keep the original as $ORIG (disk full?)"; }
      say "first push: kept the original as $ORIG"
    else
      new_temp && echo "There was no $TARGET before the first push by ingress-haproxy." > "$TEMP" && mv -f -- "$TEMP" "$ORIG_ABSENT" && sync_paths "$DIR" || refuse "cannot write $ORIG_ABSENT (disk full?)"
      say "first push: there was no $TARGET before (recorded in $ORIG_ABSENT)"
    fi
  fi
  hook write-good
  if [[ ! -e $GOOD && -e $REAL ]]; then
    copy_to "$REAL" "$GOOD" || { rm -f -- "$GOOD"; refuse "cannot keep the running $LABEL as $GOOD (disk full?)"; }
  fi
}

# stack_of OWNER: the <project>:<stack> part; empty for an owner from before stacks were recorded.
stack_of() { [[ $1 == *:*:* ]] && printf '%s\n' "${1%:*}" || true; }

# check_stack: one host, one stack. Two stacks pushing to one host would overwrite each other on every
# run, each as "newer" in its own state; the second one is refused until it is told to take over.
check_stack() {
  local theirs ours
  theirs=$(stack_of "$J_OWNER") ours=$(stack_of "$OWNER")
  [[ -n $theirs && -n $ours && $theirs != "$ours" && $theirs != "$TAKE_OVER_FROM" ]] || return 0
  refuse "the verified $LABEL on this host was pushed by stack $theirs (${J_OWNER##*:}), not by this stack $ours; one host is managed by one stack: remove it from one of them, or set push.takeOverFrom: \"$theirs\" to move it to this one"
}

read_digest_key() {
  local line
  [[ $DIGEST_KIND == hmac-sha256 ]] || return 0
  IFS= read -r line || true
  [[ $line =~ ^digest-key\ ([0-9a-f]{64})$ ]] || refuse "truncated or corrupted input: no digest key line on stdin"
  DIGEST_KEY=${BASH_REMATCH[1]}
}

# ---- push ---------------------------------------------------------------------------------------------
do_push() {
  local new received digest
  [[ $EXPECT_BYTES =~ ^[0-9]+$ && $EXPECT_DIGEST == "$DIGEST_KIND":* ]] || refuse "EXPECT_BYTES and EXPECT_DIGEST must be set"
  hook start
  read_digest_key
  new_temp || refuse "cannot create a temp file beside $TARGET"
  new=$TEMP
  cat > "$new" || { rm -f -- "$new"; refuse "cannot write the new $LABEL beside $TARGET (disk full?)"; }
  received=$(stat -c %s -- "$new")
  ((received > 0)) || refuse "no $LABEL on stdin (empty input)"
  if ((received < EXPECT_BYTES)); then refuse "truncated input: received $received of $EXPECT_BYTES bytes"; fi
  digest=$(digest_of "$new") || refuse "cannot read the new $LABEL"
  if ((received != EXPECT_BYTES)) || [[ $digest != "$EXPECT_DIGEST" ]]; then
    refuse "corrupted input: received $received bytes with $digest, expected $EXPECT_BYTES bytes with $EXPECT_DIGEST"
  fi
  if ! reason=$(validate "$new"); then refuse "validation failed: $reason"; fi
  say "received and validated the new $LABEL ($received bytes, $digest)"
  hook received

  take_lock
  check_stack
  if ((GENERATION < J_GEN)); then
    refuse "older push: generation $GENERATION is older than generation $J_GEN, verified on this host; not overwriting the newer $LABEL"
  fi
  if [[ -e $REAL && -e $GOOD ]] && cmp -s -- "$new" "$REAL" && cmp -s -- "$REAL" "$GOOD" && running; then
    ((GENERATION > J_GEN)) && J_GEN=$GENERATION
    J_OWNER=$OWNER
    journal idle || refuse "cannot write $JOURNAL"
    finish 0 "unchanged: $TARGET is already this verified $LABEL ($digest) and $SERVICE serves it; nothing to do"
  fi
  if [[ $VERIFY_KIND == haproxy-master-worker && -z $(master_pid) ]]; then
    refuse "$SERVICE is not running (no live master in $PID_FILE); start it, then push again"
  fi
  if ! reason=$(bind_check "$new"); then refuse "$reason"; fi
  first_push_record
  stage "$new" 0
  swap_in
  finish 0 "pushed: $TARGET is the new verified $LABEL ($digest), generation $GENERATION"
}

# ---- restore (destroy) ------------------------------------------------------------------------------
do_restore() {
  local new
  read_digest_key
  take_lock
  if [[ ! -e $ORIG ]]; then
    if [[ -e $ORIG_ABSENT ]]; then
      rm -f -- "$ORIG_ABSENT"
      finish 0 "there was no $TARGET before the first push; leaving the last pushed $LABEL in place"
    fi
    finish 0 "no $ORIG here (no push recorded an original); leaving $TARGET in place"
  fi
  # Only while the host still holds this resource's config (a rename pushes first, deletes after).
  if [[ $J_OWNER != - && $J_OWNER != "$OWNER" ]]; then
    finish 0 "the verified $LABEL on this host was pushed by $J_OWNER, not by $OWNER; leaving it and $ORIG in place"
  fi
  if [[ -e $GOOD && -e $REAL ]] && ! cmp -s -- "$REAL" "$GOOD" && [[ $RESTORE_OVER_EDITS != 1 ]]; then
    refuse "$TARGET was changed by hand since the last verified push; not restoring over it (set push.restoreOverHandEdits to restore anyway)"
  fi
  new_temp || refuse "cannot create a temp file beside $TARGET"
  new=$TEMP
  cp -p -- "$ORIG" "$new" || refuse "cannot copy $ORIG (disk full?)"
  if ! reason=$(validate "$new"); then refuse "validation failed: original $reason; left the pushed $LABEL in place"; fi
  if ! (cmp -s -- "$new" "$REAL" 2> /dev/null && running); then
    if [[ $VERIFY_KIND == haproxy-master-worker && -z $(master_pid) ]]; then
      refuse "$SERVICE is not running (no live master in $PID_FILE); start it, then destroy again"
    fi
    if ! reason=$(bind_check "$new"); then refuse "$reason; left the pushed $LABEL in place"; fi
    stage "$new" 1
    swap_in
  fi
  J_OWNER=-
  journal idle || warn "could not write $JOURNAL"
  rm -f -- "$ORIG" "$GOOD" && sync_paths "$DIR" || warn "could not remove $ORIG or $GOOD"
  finish 0 "restored the original $LABEL from $ORIG ($(digest_of "$REAL"))"
}

case $MODE in
  push) do_push ;;
  restore) do_restore ;;
  *) refuse "MODE must be push or restore, got $MODE" ;;
esac
