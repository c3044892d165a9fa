#!/usr/bin/env bash
# Smoke test of the local engine toolchain and cluster (bounded: about a minute when built).
#
#   scripts/cluster/smoke.sh
#
#  1. the pulumi CLI: `pulumi version`, `pulumi login file://...` with a passphrase, a stack can be
#     created, and `pulumi plugin ls` lists the providers the program needs;
#  2. the cluster: up.sh, weave-net 3/3 ready, a tiny DaemonSet gets one Ready pod on each fake node
#     with the node's address, it is deleted, down.sh.
# Exits non-zero on the first failure; prints `N passed, N failed` at the end.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# a cluster of its own, so a developer's running cluster is left alone
export IHP_CLUSTER_DIR="${IHP_SMOKE_CLUSTER_DIR:-/tmp/ihp-cluster-smoke}"
export IHP_CLUSTER_PORT_BASE="${IHP_SMOKE_PORT_BASE:-26500}"
source "$HERE/lib.sh"
# shellcheck source=../toolchain/env.sh
source "$HERE/../toolchain/env.sh"

passed=0
failed=0
skipped=0
check() { # check DESCRIPTION COMMAND...
  local what="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   - $what"
  else
    failed=$((failed + 1))
    echo "FAIL - $what"
  fi
}

WORK="$(mktemp -d /tmp/ihp-smoke.XXXXXX)"
cleanup() {
  "$HERE/down.sh" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- 1. pulumi ----
ihp_private_pulumi_home "$WORK/pulumi-home"
export PULUMI_CONFIG_PASSPHRASE=smoke-test-passphrase
export PULUMI_BACKEND_URL="file://$WORK/state"
mkdir -p "$WORK/state"
pulumi_version_ok() { [[ "$(pulumi version)" == "v$PULUMI_VERSION" ]]; }
check "pulumi version is v$PULUMI_VERSION" pulumi_version_ok
check "pulumi login $PULUMI_BACKEND_URL" pulumi login --non-interactive "$PULUMI_BACKEND_URL"
stack_init() {
  mkdir -p "$WORK/proj" && printf 'name: smoke\nruntime: nodejs\n' >"$WORK/proj/Pulumi.yaml" &&
    (cd "$WORK/proj" && pulumi stack init --non-interactive smoke >/dev/null && pulumi stack ls --non-interactive | grep -q '^smoke')
}
check "pulumi stack init in the file backend" stack_init
pulumi plugin ls >"$WORK/plugins.txt" 2>&1 || true
sed 's/^/     /' "$WORK/plugins.txt"
plugin_listed() { grep -Eq "^$1[[:space:]]+resource[[:space:]]+$2[[:space:]]" "$WORK/plugins.txt"; }
check "pulumi plugin ls: kubernetes $PULUMI_K8S_VERSION" plugin_listed kubernetes "$PULUMI_K8S_VERSION"
check "pulumi plugin ls: command $PULUMI_COMMAND_VERSION" plugin_listed command "$PULUMI_COMMAND_VERSION"
lang_host_ok() { [[ "$("$(dirname "$(command -v pulumi)")/pulumi-language-nodejs" -version)" == "v$PULUMI_VERSION" ]]; }
check "language host pulumi-language-nodejs v$PULUMI_VERSION next to pulumi" lang_host_ok

# ---- 2. cluster ----
T0="$(date +%s)"
"$HERE/up.sh" >/dev/null
echo "     cluster up in $(($(date +%s) - T0))s"
weave_ok() {
  [[ "$(kc -n kube-system get ds weave-net -o jsonpath='{.status.numberReady}/{.status.desiredNumberScheduled}')" == "3/3" ]]
}
check "fixture weave-net: 3/3 pods ready" weave_ok
weave_shape_ok() {
  [[ "$(kc -n kube-system get ds weave-net -o jsonpath='{.spec.template.spec.containers[0].name} {.spec.template.spec.containers[0].image}')" \
    == "weave docker.io/weaveworks/weave-kube:2.6.5" ]]
}
check "fixture weave-net: container 0 is weave 2.6.5" weave_shape_ok

kc apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: smoke
  namespace: default
spec:
  selector:
    matchLabels: {app: smoke}
  template:
    metadata:
      labels: {app: smoke}
    spec:
      containers:
        - name: pause
          image: registry.k8s.io/pause:3.10
EOF
smoke_ready() {
  [[ "$(kc get ds smoke -o jsonpath='{.status.numberReady}')" == "3" ]]
}
check "DaemonSet smoke: 3 ready pods" wait_for "ds smoke ready" 60 smoke_ready
smoke_spread() {
  local got
  got="$(kc get pods -l app=smoke -o jsonpath='{range .items[*]}{.spec.nodeName}={.status.hostIP}{"\n"}{end}' | sort | paste -sd' ')"
  echo "     pods on: $got"
  [[ "$got" == "node-1=192.0.2.11 node-2=192.0.2.12 node-3=192.0.2.13" ]]
}
check "DaemonSet smoke: one pod per node, hostIP = node address" smoke_spread
smoke_gone() { ! kc get pods -l app=smoke -o name | grep -q .; }
kc delete ds smoke --wait=true --timeout=60s >/dev/null
check "DaemonSet smoke: deleted, pods gone" wait_for "smoke pods gone" 60 smoke_gone

"$HERE/down.sh" >/dev/null 2>&1
down_ok() { [[ ! -e "$IHP_CLUSTER_DIR" ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$APISERVER_PORT") 2>/dev/null; }
check "down.sh: processes stopped, state removed" down_ok

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
