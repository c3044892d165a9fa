#!/usr/bin/env bash
# The benchmark's own hosts: network namespaces prefixed ihp-bench- on one bridge, separate from
# scripts/netns/hosts.sh (whose fixed ihp-* hosts other tiers may be using at the same time).
#
#   bench/netns.sh up      # (re)create: client, lb, node (3 node addresses), switch; idempotent
#   bench/netns.sh down    # kill every process in our namespaces, delete them, remove the state dir
#   bench/netns.sh exec HOST CMD...   # HOST = client | lb | node
#
#   ihp-bench-client 203.0.113.20 ─┐
#   ihp-bench-lb     198.51.100.20 ─┼─ br0 in ihp-bench-sw
#   ihp-bench-node   192.0.2.21 .22 .23 (node-1..3: one nginx worker serves the three addresses)
#
# Only documentation ranges, only inside these namespaces; nothing is added to the root namespace.
set -euo pipefail

PREFIX=ihp-bench-
SW=${PREFIX}sw
DIR=${IHP_BENCH_DIR:-/run/ihp-bench}

die() { echo "bench/netns.sh: ERROR: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces); uid $(id -u)"

ours() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^${PREFIX}" || true; }

down() {
  local ns p pids=()
  for ns in $(ours); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$p"); done
  done
  # Daemons of an earlier run whose namespace is already gone, and the syslog sink (root namespace),
  # still carry the state dir in their command line.
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p == "$$" ]] && continue
    tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- " $DIR/" && pids+=("$p")
  done
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 30); do
      local alive=()
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
      ((${#alive[@]})) || break
      sleep 0.1
    done
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
  fi
  for ns in $(ours); do ip netns del "$ns" 2>/dev/null || echo "bench/netns.sh: could not delete $ns" >&2; done
  case $DIR in /run/ihp-bench*|/tmp/*) rm -rf -- "$DIR" ;; esac
  return 0
}

host() { # host NAME PORT CIDR...
  local port=$2 ns=${PREFIX}$1 c; shift 2
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$SW" link add "$port" type veth peer name eth0 netns "$ns"
  ip -n "$SW" link set "$port" master br0 up
  for c in "$@"; do ip -n "$ns" addr add "$c" dev eth0; done
  ip -n "$ns" link set eth0 up
  # All three documentation ranges on one L2 segment.
  for r in 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24; do
    ip -n "$ns" route show "$r" | grep -q . || ip -n "$ns" route add "$r" dev eth0 scope link
  done
}

up() {
  down
  install -d -m 755 "$DIR"
  ip netns add "$SW"
  ip -n "$SW" link set lo up
  ip -n "$SW" link add br0 type bridge stp_state 0 forward_delay 0
  ip -n "$SW" link set br0 up
  host client pb-client 203.0.113.20/24
  host lb pb-lb 198.51.100.20/24
  host node pb-node 192.0.2.21/24 192.0.2.22/24 192.0.2.23/24
  # Tens of thousands of new connections per second reuse 4-tuples within TIME_WAIT's 60 s: a SYN
  # that meets the server side's TIME_WAIT socket stalls for a 1 s retransmit. So: the whole port
  # range on the connecting hosts, and no TIME_WAIT kept on the hosts that close first (the same for
  # every compared path). The bench proves the wire itself (it waits for nginx and HAProxy through it).
  local h
  for h in client lb; do ip netns exec ${PREFIX}$h sysctl -qw net.ipv4.ip_local_port_range="1024 65535"; done
  for h in lb node; do ip netns exec ${PREFIX}$h sysctl -qw net.ipv4.tcp_max_tw_buckets=0; done
}

cmd=${1:-}; [[ $# -gt 0 ]] && shift
case $cmd in
  up) up ;;
  down) down ;;
  exec) h=${1:?host}; shift; exec ip netns exec "${PREFIX}$h" "$@" ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
