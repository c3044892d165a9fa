#!/usr/bin/env bash
# Stops the local cluster started by up.sh and removes its state folder.
#
#   scripts/cluster/down.sh            # IHP_CLUSTER_DIR (default /tmp/ihp-cluster)
#   scripts/cluster/down.sh --keep     # stop the processes, keep the folder (logs) for a post-mortem
#
# Only the processes whose ids up.sh recorded (and whose executable still matches) are signalled.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

keep=false
[[ "${1:-}" == "--keep" ]] && keep=true

stop_one() {
  local name="$1" pid i
  pid_alive "$name" || return 0
  pid="$(cat "$CLUSTER_DIR/pids/$name.pid")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do # 10 s
    # gone, or a zombie waiting for its new parent to reap it: stopped either way
    if ! kill -0 "$pid" 2>/dev/null || [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]]; then
      clog "stopped $name ($pid)"
      return 0
    fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  clog "killed $name ($pid) after 10s"
}

if [[ -d "$CLUSTER_DIR" ]]; then
  # reverse start order: clients first, etcd last
  for ((i = ${#PROCESSES[@]} - 1; i >= 0; i--)); do
    stop_one "${PROCESSES[i]}"
  done
  if $keep; then
    rm -f "$CLUSTER_DIR/ready"
    clog "processes stopped; state kept in $CLUSTER_DIR"
  elif [[ -f "$CLUSTER_DIR/.ihp-cluster" ]]; then
    rm -rf "$CLUSTER_DIR"
    clog "removed $CLUSTER_DIR"
  else
    cdie "$CLUSTER_DIR was not made by up.sh (no .ihp-cluster marker): not removing it"
  fi
else
  clog "nothing to do: $CLUSTER_DIR does not exist"
fi
