#!/usr/bin/env bash
# Real "hosts" for end-to-end tests: network namespaces on one L2 switch (a bridge in its own
# namespace), with real sshd + HAProxy (master-worker) on the load balancers and real nginx (PROXY
# protocol, TLS, real_ip from the LBs only, NetworkPolicy simulated with iptables) on the nodes.
#
#   scripts/netns/hosts.sh up                   # (re)build everything; cleans a crashed run first
#   scripts/netns/hosts.sh down                 # remove namespaces, daemons and the state dir
#   scripts/netns/hosts.sh status               # exit 0 when every host and daemon is up
#   scripts/netns/hosts.sh exec HOST CMD...     # run CMD on a host (ip netns exec ihp-HOST)
#   scripts/netns/hosts.sh link HOST up|down    # plug / unplug a host's cable (switch port)
#   scripts/netns/hosts.sh blackhole HOST on|off  # drop every packet a host receives
#
# State (keys, configs, logs, pid files) lives in $IHP_NETNS_DIR (default /run/ihp-netns); `up`
# writes the contract $IHP_NETNS_DIR/hosts.json last, once every daemon answers. See
# test/netns/README.md. Root only. Only documentation ranges are used; the root namespace gets
# 198.51.100.1/24 on interface ihp-root (so the Pulumi engine reaches the LBs' sshd) and nothing else.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${IHP_NETNS_DIR:-/run/ihp-netns}
PREFIX=ihp-
SW=${PREFIX}sw
BR=br0
ROOT_IF=ihp-root
ROOT_PORT="p-root"
ROOT_ADDR=198.51.100.1/24
LOCK=${DIR%/}.lock

log() { echo "hosts.sh: $*" >&2; }
die() { echo "hosts.sh: ERROR: $*" >&2; exit 1; }

need_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, iptables, sshd); current uid $(id -u)"
}

# command -> Debian package
DEPS="haproxy:haproxy nginx:nginx sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client \
ip:iproute2 iptables:iptables iptables-restore:iptables curl:curl openssl:openssl flock:util-linux ss:iproute2"

missing_packages() {
  local pair cmd pkg out=()
  for pair in $DEPS; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 || out+=("$pkg")
  done
  printf '%s\n' "${out[@]}" | sort -u | grep -v '^$' || true
}

ensure_deps() {
  local -a pkgs
  read -r -a pkgs <<< "$(missing_packages | xargs)"
  if ((${#pkgs[@]})); then
    log "installing missing packages: ${pkgs[*]}"
    # Keep the packages' own services (nginx on :80, haproxy, sshd) from starting in the root namespace.
    local policy=/usr/sbin/policy-rc.d created=0
    if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; created=1; fi
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; } >&2 || {
      [[ $created -eq 1 ]] && rm -f "$policy"; die "apt-get install failed for: ${pkgs[*]}"; }
    [[ $created -eq 1 ]] && rm -f "$policy"
    read -r -a pkgs <<< "$(missing_packages | xargs)"
    ((${#pkgs[@]} == 0)) || die "still missing after apt-get: ${pkgs[*]}"
  fi
  [[ -x $REPO/node_modules/.bin/tsx ]] || die "missing $REPO/node_modules/.bin/tsx: run npm ci in $REPO"
}

# Exactly this topology's namespaces: other tools' ihp-* namespaces (bench/netns.sh's ihp-bench-*) are not ours.
our_namespaces() {
  local want
  want=$(echo "$SW"; topology | awk '{print $3}') || want=$SW
  ip netns list 2>/dev/null | awk '{print $1}' | grep -Fx "$want" || true
}

kill_pids() { # kill_pids PID... : TERM, wait up to 3 s, then KILL
  local pids=("$@") p
  [[ ${#pids[@]} -gt 0 ]] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 30); do
    local alive=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    [[ ${#alive[@]} -eq 0 ]] && return 0
    sleep 0.1
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
}

do_down() {
  local ns pids=() p
  for ns in $(our_namespaces); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$p"); done
  done
  # Daemons of a crashed run whose namespace is already gone still carry our state dir in argv.
  if [[ -d $DIR ]]; then
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- " $DIR/" && pids+=("$p")
    done
  fi
  kill_pids "${pids[@]}"
  for ns in $(our_namespaces); do ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"; done
  # Deleting the switch namespace removes its veth pair asynchronously: the root end may vanish between
  # the check and the delete ("Cannot find device"). Only a link that is still there is an error.
  if ip link show "$ROOT_IF" >/dev/null 2>&1; then
    ip link del "$ROOT_IF" 2>/dev/null || ! ip link show "$ROOT_IF" >/dev/null 2>&1 || die "could not delete $ROOT_IF"
  fi
  case $DIR in /run/*|/tmp/*|/var/tmp/*) rm -rf -- "$DIR" ;; *) [[ -f $DIR/hosts.json || -f $DIR/hosts.json.pending ]] && rm -rf -- "$DIR" ;; esac
  return 0
}

topology() { "$REPO/node_modules/.bin/tsx" "$REPO/test/netns/render.ts" topology; }

make_keys() {
  install -d -m 755 "$DIR" "$DIR/tls"
  install -d -m 700 "$DIR/ssh"
  ssh-keygen -q -t ed25519 -N '' -C ihp-netns-test -f "$DIR/ssh/id_ed25519"
  install -m 600 "$DIR/ssh/id_ed25519.pub" "$DIR/ssh/authorized_keys"
  local name
  for name in "$@"; do
    install -d -m 755 "$DIR/$name"
    ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$DIR/$name/ssh_host_ed25519_key"
  done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
    -subj /CN=ingress.test -addext subjectAltName=DNS:ingress.test \
    -keyout "$DIR/tls/tls.key" -out "$DIR/tls/tls.crt" 2>/dev/null
  chmod 600 "$DIR/tls/tls.key"
}

wait_listen() { # wait_listen NS PORT...
  local ns=$1 port; shift
  for port in "$@"; do
    for _ in $(seq 1 50); do
      ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && continue 2
      sleep 0.1
    done
    die "nothing listens on port $port in namespace $ns"
  done
}

do_up() {
  do_down
  local topo lbs=()
  topo=$(topology) || die "cannot read the topology (test/netns/render.ts)"
  while read -r name role _; do [[ $role == lb ]] && lbs+=("$name"); done <<<"$topo"
  make_keys "${lbs[@]}"
  "$REPO/node_modules/.bin/tsx" "$REPO/test/netns/render.ts" files "$DIR" || die "rendering configs failed"

  # The switch: one bridge in its own namespace.
  ip netns add "$SW"
  ip -n "$SW" link set lo up
  ip -n "$SW" link add "$BR" type bridge stp_state 0 forward_delay 0
  ip -n "$SW" link set "$BR" up

  local name role ns cidr port routes r
  while read -r name role ns cidr port routes; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$SW" link add "$port" type veth peer name eth0 netns "$ns"
    ip -n "$SW" link set "$port" master "$BR" up
    ip -n "$ns" addr add "$cidr" dev eth0
    ip -n "$ns" link set eth0 up
    for r in ${routes//,/ }; do ip -n "$ns" route add "$r" dev eth0 scope link; done
  done <<<"$topo"

  # The root namespace reaches the load balancers (sshd for the Pulumi engine) and nothing else.
  ip link add "$ROOT_IF" type veth peer name "$ROOT_PORT" netns "$SW"
  ip -n "$SW" link set "$ROOT_PORT" master "$BR" up
  ip addr add "$ROOT_ADDR" dev "$ROOT_IF"
  ip link set "$ROOT_IF" up

  install -d -m 755 /run/sshd
  while read -r name role ns cidr port routes; do
    case $role in
      lb)
        ip netns exec "$ns" /usr/sbin/sshd -f "$DIR/$name/sshd_config" -E "$DIR/$name/sshd.log" 9>&- ||
          die "sshd failed on $name: $(tail -n 5 "$DIR/$name/sshd.log" 2>/dev/null)"
        # This machine's open-files hard limit (20000 here) caps maxconn: the test stack sets
        # haproxy.maxconn 4096 (the default 20000 passes `haproxy -c` and then fails every reload).
        ip netns exec "$ns" haproxy -W -D -p "$DIR/$name/haproxy.pid" -S "$DIR/$name/haproxy-master.sock" \
          -f "$DIR/$name/haproxy.cfg" 9>&- || die "haproxy failed to start on $name"
        ;;
      node)
        ip netns exec "$ns" iptables-restore <"$DIR/$name/netpol.rules" || die "iptables-restore failed on $name"
        ip netns exec "$ns" nginx -e "$DIR/$name/error.log" -c "$DIR/$name/nginx.conf" 9>&- ||
          die "nginx failed on $name: $(tail -n 5 "$DIR/$name/error.log" 2>/dev/null)"
        ;;
    esac
  done <<<"$topo"

  # Readiness: every daemon listens, the wire works end to end.
  local node_addr="" lb_addr=""
  while read -r name role ns cidr port routes; do
    case $role in
      lb) wait_listen "$ns" 22 8999; lb_addr=${lb_addr:-${cidr%/*}}; lb_ns=${lb_ns:-$ns} ;;
      node) wait_listen "$ns" 30111 30112; node_addr=${node_addr:-${cidr%/*}} ;;
    esac
  done <<<"$topo"
  local code
  code=$(ip netns exec "$lb_ns" curl -s -o /dev/null -w '%{http_code}' --max-time 3 --haproxy-protocol "http://$node_addr:30111/nginx-health" || true)
  [[ $code == 200 ]] || die "LB -> node check failed (http $code from $node_addr:30111 via $lb_ns)"
  timeout 5 bash -c "exec 3<>/dev/tcp/$lb_addr/22" 2>/dev/null || die "root namespace cannot reach sshd on $lb_addr:22"
  mv "$DIR/hosts.json.pending" "$DIR/hosts.json"
  log "up: contract $DIR/hosts.json"
}

do_status() {
  local ok=0 name role ns cidr port routes pid
  if [[ ! -f $DIR/hosts.json ]]; then echo "down: no $DIR/hosts.json"; return 1; fi
  while read -r name role ns cidr port routes; do
    local state=up detail=""
    if ! ip netns list | awk '{print $1}' | grep -qx "$ns"; then state=missing; fi
    check_pid() {
      pid=$(cat "$1" 2>/dev/null || true)
      if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then detail+=" $2:$pid"; else state=degraded; detail+=" $2:DEAD"; fi
    }
    case $role in
      lb) check_pid "$DIR/$name/sshd.pid" sshd; check_pid "$DIR/$name/haproxy.pid" haproxy ;;
      node) check_pid "$DIR/$name/nginx.pid" nginx ;;
    esac
    printf '%-9s %-7s %-16s %-8s%s\n' "$name" "$role" "${cidr%/*}" "$state" "$detail"
    [[ $state == up ]] || ok=1
  done < <(topology)
  return $ok
}

host_ns() { local ns=${PREFIX}$1; ip netns list | awk '{print $1}' | grep -qx "$ns" || die "no host $1 (namespace $ns)"; echo "$ns"; }

# Daemons are started with fd 9 closed so they never inherit the lock.
with_lock() { exec 9>"$LOCK"; flock -w 60 9 || die "another hosts.sh holds $LOCK"; "$@"; exec 9>&-; }

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
  up) need_root; ensure_deps; with_lock do_up; do_status ;;
  down) need_root; with_lock do_down; log "down" ;;
  status) need_root; do_status ;;
  deps) need_root; ensure_deps ;;
  exec) need_root; ns=$(host_ns "${1:?host}"); shift; exec ip netns exec "$ns" "$@" ;;
  link)
    need_root; host_ns "${1:?host}" >/dev/null
    case ${2:-} in up|down) ip -n "$SW" link set "p-$1" "$2" ;; *) die "usage: link HOST up|down" ;; esac ;;
  blackhole)
    need_root; ns=$(host_ns "${1:?host}")
    case ${2:-} in
      on) ip netns exec "$ns" iptables -C INPUT -m comment --comment ihp-blackhole -j DROP 2>/dev/null ||
            ip netns exec "$ns" iptables -I INPUT 1 -m comment --comment ihp-blackhole -j DROP ;;
      off) while ip netns exec "$ns" iptables -D INPUT -m comment --comment ihp-blackhole -j DROP 2>/dev/null; do :; done ;;
      *) die "usage: blackhole HOST on|off" ;;
    esac ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
