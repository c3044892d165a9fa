#!/usr/bin/env bash
# keepalived on the netns test LBs (scripts/netns/hosts.sh builds the hosts; this script never edits
# them). Both LB namespaces share this machine's filesystem, so every LB keeps its keepalived files in
# its own folder of the hosts' state dir: $IHP_NETNS_DIR/<lb>/keepalived/.
#
#   netns-vrrp.sh up                      # after `hosts.sh up`: each LB's keepalived folder (the push
#                                         #   needs the target's folder, as /etc/keepalived on a real host)
#   netns-vrrp.sh paths LB                # print conf, pid, vrrp pid and log paths (KEY=VALUE)
#   netns-vrrp.sh reload-or-start LB      # run ON the LB (the push's reload command, over SSH):
#                                         #   SIGHUP a running keepalived, else start one
#   netns-vrrp.sh stop LB                 # stop that LB's keepalived (from anywhere; by pid file)
#   netns-vrrp.sh down                    # stop every LB's keepalived; idempotent
#
# `scripts/netns/hosts.sh down` removes the namespaces and every process in them, keepalived included.
set -euo pipefail

DIR=${IHP_NETNS_DIR:-/run/ihp-netns}
LBS=(lb-1 lb-2)

die() { echo "netns-vrrp.sh: $*" >&2; exit 1; }

paths() {
  local d="$DIR/$1/keepalived"
  CONF="$d/keepalived.conf"
  PID="$d/keepalived.pid"
  VRRP_PID="$d/vrrp.pid"
  CHECK_PID="$d/checkers.pid"
  LOG="$d/keepalived.log"
  KDIR=$d
}

alive() { local p; p=$(cat "$1" 2>/dev/null) && [[ $p =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null; }

stop_one() {
  paths "$1"
  local p
  alive "$PID" || return 0
  p=$(cat "$PID")
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
}

valid_lb() { [[ " ${LBS[*]} " == *" $1 "* ]] || die "unknown LB '$1' (one of ${LBS[*]})"; }

cmd=${1:-}
case $cmd in
  paths)
    valid_lb "${2:?LB}"; paths "$2"
    printf 'CONF=%s\nPID=%s\nVRRP_PID=%s\nLOG=%s\n' "$CONF" "$PID" "$VRRP_PID" "$LOG" ;;
  up)
    [[ -f $DIR/hosts.json ]] || die "no $DIR/hosts.json: run scripts/netns/hosts.sh up first"
    for lb in "${LBS[@]}"; do paths "$lb"; install -d -m 700 "$KDIR"; done ;;
  reload-or-start)
    valid_lb "${2:?LB}"; paths "$2"
    if alive "$PID"; then
      kill -HUP "$(cat "$PID")"
      echo "reloaded keepalived on $2 (SIGHUP to $(cat "$PID"))"
    else
      install -d -m 700 "$KDIR"
      # -n keeps it in the foreground of its own session; the log holds every state change.
      setsid keepalived -n -l -D -G -f "$CONF" -p "$PID" -r "$VRRP_PID" -c "$CHECK_PID" </dev/null >>"$LOG" 2>&1 9>&- &
      for _ in $(seq 1 50); do alive "$PID" && alive "$VRRP_PID" && break; sleep 0.1; done
      alive "$PID" || die "keepalived did not start on $2: $(tail -n 5 "$LOG")"
      echo "started keepalived on $2 (pid $(cat "$PID"))"
    fi ;;
  stop) valid_lb "${2:?LB}"; stop_one "$2" ;;
  down) for lb in "${LBS[@]}"; do stop_one "$lb"; done ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
