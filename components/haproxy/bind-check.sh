#!/usr/bin/env bash
# Pre-reload bind check for a candidate haproxy.cfg (components/haproxy/push-script.ts, renderBindCheck).
# Can the candidate in $CONFIG bind everything it lists? A `bind` that passes `haproxy -c` but cannot
# bind makes HAProxy 2.6 pause the old worker's listeners (new connections refused for ~2 s) before the
# push can roll back; this catches the two usual causes first: an address that is not this host's, and
# a port another process listens on (see components/haproxy/README.md). A candidate with no TCP bind
# is refused too (it would serve nothing). Silent on success; else one line `bind check failed: ...`,
# exit 1. pid_file (the running master's) is prepended by the program, or exported.
# LIST_BINDS=1: print the binds (each_bind) and check nothing; the push's serving check uses it.
set -euo pipefail
: "${pid_file:?pid_file must name the haproxy master pid file}"

fail() {
  echo "bind check failed: $1"
  exit 1
}
# each_bind: one line "host first-port last-port freebind address" per TCP bind of $CONFIG it can read.
each_bind() {
  local keyword spec options freebind address host ports entries
  while read -r keyword spec options; do
    [[ $keyword == bind ]] || continue
    [[ " $options " == *" namespace "* ]] && continue
    freebind=0
    [[ " $options " == *" transparent "* || " $options " == *" freebind "* ]] && freebind=1
    IFS=, read -ra entries <<< "$spec"
    for address in "${entries[@]}"; do
      case $address in
        ipv4@* | ipv6@* | tcp@* | tcp4@* | tcp6@*) address=${address#*@} ;;
        *@* | /* | *\$* | *\"*) continue ;;
      esac
      [[ $address == *:* ]] || continue
      if [[ $address == "["* ]]; then
        host=${address%%]*}
        host=${host#"["}
        ports=${address##*]:}
      else
        host=${address%:*}
        ports=${address##*:}
      fi
      [[ $ports =~ ^([0-9]+)(-([0-9]+))?$ ]] || continue
      echo "${host:-*} $((10#${BASH_REMATCH[1]})) $((10#${BASH_REMATCH[3]:-${BASH_REMATCH[1]}})) $freebind $address"
    done
  done < "$CONFIG"
}
[[ -r ${CONFIG:-} ]] || fail "cannot read the candidate file"
if [[ ${LIST_BINDS:-0} == 1 ]]; then
  each_bind
  exit 0
fi

for tool in ip ss; do
  command -v "$tool" > /dev/null || fail "$tool not found on this host (install iproute2)"
done

# The running haproxy: the master in the pid file and its children (workers, old workers).
own=" "
master=""
{ read -r master < "$pid_file"; } 2> /dev/null || true
if [[ $master =~ ^[0-9]+$ ]]; then
  own+="$master "
  for d in /proc/[0-9]*; do
    { read -r stat < "$d/stat"; } 2> /dev/null || continue
    rest=${stat##*) }
    read -r _ ppid _ <<< "$rest"
    if [[ $ppid == "$master" ]]; then own+="${d#/proc/} "; fi
  done
fi

addresses_out=$(ip -o addr show) || fail "ip -o addr show failed"
host_addresses=" "
while read -r _ _ _ cidr _; do host_addresses+="${cidr%%/*} "; done <<< "$addresses_out"
host_addresses=${host_addresses,,}

# Listening TCP sockets by port: one "address|users" line each.
listen_out=$(ss -Hltnp) || fail "ss -Hltnp failed"
declare -A listeners=()
while read -r _ _ _ local_address _ users; do
  [[ $local_address == *:* ]] || continue
  lport=${local_address##*:}
  lhost=${local_address%:*}
  lhost=${lhost%%%*}
  lhost=${lhost#"["}
  lhost=${lhost%"]"}
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
  [[ $host_addresses == *" ${1,,} "* ]] && return 0
  route=$(ip -o route get "$1" 2> /dev/null) || return 1
  [[ $route == "local "* ]]
}
# overlaps BIND LISTENER: would a bind on BIND collide with a listener on LISTENER (same port)?
overlaps() {
  local b=${1,,} l=${2,,}
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
    if [[ $own != *" ${BASH_REMATCH[2]} "* ]]; then
      echo "${BASH_REMATCH[1]} (pid ${BASH_REMATCH[2]})"
      return 0
    fi
    users=${users#*"${BASH_REMATCH[0]}"}
  done
}


binds=$(each_bind)
[[ -n $binds ]] || fail "the candidate binds nothing (no TCP bind it can read)"
while read -r host first last freebind address; do
  [[ $host == "*" ]] && host=""
  if ! is_wildcard "$host" && ((freebind == 0)) && ! nonlocal_bind "$(family "$host")" && ! is_host_address "$host"; then
    fail "$address is not an address of this host"
  fi
  for ((port = first; port <= last; port++)); do
    while IFS="|" read -r lhost users; do
      [[ -n $lhost ]] || continue
      overlaps "$host" "$lhost" || continue
      holder=$(foreign_holder "$users")
      [[ -z $holder ]] || fail "port $port is held by $holder"
    done <<< "${listeners[$port]:-}"
  done
done <<< "$binds"
