# Shared by up.sh, down.sh and smoke.sh: where the local cluster lives and how to reach it.
# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this file
IHP_CLUSTER_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../toolchain/lib.sh
source "$IHP_CLUSTER_SRC/../toolchain/lib.sh"

CLUSTER_DIR="${IHP_CLUSTER_DIR:-/tmp/ihp-cluster}"
# Every listener is on 127.0.0.1. Ports are BASE+offset so two clusters can run side by side.
PORT_BASE="${IHP_CLUSTER_PORT_BASE:-26400}"
ETCD_CLIENT_PORT=$((PORT_BASE + 1))
ETCD_PEER_PORT=$((PORT_BASE + 2))
APISERVER_PORT=$((PORT_BASE + 43))
KCM_PORT=$((PORT_BASE + 57))
SCHEDULER_PORT=$((PORT_BASE + 59))
KWOK_PORT=$((PORT_BASE + 47))
ALL_PORTS=("$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHEDULER_PORT" "$KWOK_PORT")

# Fake nodes and their addresses (documentation range 192.0.2.0/24, the node addresses of the test stack).
NODE_NAMES=(node-1 node-2 node-3)
NODE_IPS=(192.0.2.11 192.0.2.12 192.0.2.13)
# Virtual ranges: documentation ranges too. Pods get addresses from the upper half of the node range,
# apart from the load balancers' range: a pod address must never fall inside set-real-ip-from (the
# real-controller tier gives pods these addresses in the node namespaces).
SERVICE_CIDR=203.0.113.0/24
POD_CIDR=192.0.2.128/25
# kwok's Stage objects (what happens to nodes and pods); a tier may bring its own (IHP_CLUSTER_KWOK_STAGES).
KWOK_STAGES="${IHP_CLUSTER_KWOK_STAGES:-$(dir_of kwok)/share/stages.yaml}"

K8S_BIN="$(dir_of kubernetes)/bin"
ETCD_BIN="$(dir_of etcd)/bin"
KWOK_DIR="$(dir_of kwok)"
KUBECONFIG_PATH="$CLUSTER_DIR/kubeconfig"
PROCESSES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

clog() { printf '[cluster %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
cdie() { clog "ERROR: $*"; exit 1; }

kc() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

# pid_alive NAME: the recorded process is running and is still the binary we started.
pid_alive() {
  local f="$CLUSTER_DIR/pids/$1.pid" pid exe
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  [[ "$(basename "${exe% (deleted)}")" == "$1" ]]
}

# wait_for DESCRIPTION SECONDS COMMAND...: retry COMMAND every second, give up after SECONDS.
wait_for() {
  local what="$1" secs="$2" i
  shift 2
  for ((i = 0; i < secs; i++)); do
    if "$@" >/dev/null 2>&1; then
      clog "$what: ok after ${i}s"
      return 0
    fi
    sleep 1
  done
  clog "$what: not ready after ${secs}s"
  return 1
}
