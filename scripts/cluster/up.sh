#!/usr/bin/env bash
# Starts a local Kubernetes control plane on 127.0.0.1 with three fake nodes, for engine tests.
#
#   scripts/cluster/up.sh        # prints KUBECONFIG=... on stdout when the cluster is ready
#
# etcd, kube-apiserver (client-certificate auth, RBAC), kube-controller-manager, kube-scheduler and
# the kwok controller run as local processes from the toolchain cache (scripts/toolchain/build.sh).
# kwok plays the kubelets of node-1..3 (InternalIP 192.0.2.11-13) and marks their pods Ready.
# A fixture DaemonSet kube-system/weave-net shaped like Weave Net 2.6.5's manifest is applied.
#
# State, certificates, logs and the kubeconfig live in IHP_CLUSTER_DIR (default /tmp/ihp-cluster).
# Idempotent: a healthy cluster is left alone; anything else (a crashed run, a half start) is
# cleaned with down.sh first. Nothing listens on or connects to a non-loopback address.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

T0="$(date +%s)"
for b in "$K8S_BIN/kube-apiserver" "$K8S_BIN/kube-controller-manager" "$K8S_BIN/kube-scheduler" \
  "$K8S_BIN/kubectl" "$ETCD_BIN/etcd" "$KWOK_DIR/bin/kwok" "$KWOK_STAGES"; do
  [[ -e "$b" ]] || cdie "$b is missing: run scripts/toolchain/build.sh kubernetes etcd kwok"
done
command -v openssl >/dev/null || cdie "openssl is needed (apt-get install openssl)"
command -v curl >/dev/null || cdie "curl is needed (apt-get install curl)"

apiserver_ready() {
  curl -fsS --max-time 2 --cacert "$CLUSTER_DIR/pki/ca.crt" \
    --cert "$CLUSTER_DIR/pki/admin.crt" --key "$CLUSTER_DIR/pki/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz"
}

healthy() {
  [[ -f "$CLUSTER_DIR/ready" ]] || return 1
  local p
  for p in "${PROCESSES[@]}"; do pid_alive "$p" || return 1; done
  apiserver_ready >/dev/null 2>&1
}

if healthy; then
  clog "already up in $CLUSTER_DIR"
  echo "KUBECONFIG=$KUBECONFIG_PATH"
  exit 0
fi
if [[ -e "$CLUSTER_DIR" ]]; then
  clog "cleaning a previous, unhealthy run in $CLUSTER_DIR"
  "$IHP_CLUSTER_SRC/down.sh"
fi

for port in "${ALL_PORTS[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    cdie "127.0.0.1:$port is already in use (set IHP_CLUSTER_PORT_BASE to move the cluster)"
  fi
done

mkdir -p "$CLUSTER_DIR"/{pki,etcd,logs,pids,manifests}
touch "$CLUSTER_DIR/.ihp-cluster"
PKI="$CLUSTER_DIR/pki"

# ---- certificates: one CA, the serving certificate, an admin client, the service-account key ----
clog "generating certificates in $PKI"
(
  cd "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=ihp-local-ca" \
    -keyout ca.key -out ca.crt 2>/dev/null
  # kube-apiserver serving certificate: loopback, and the in-cluster names of the kubernetes Service
  cat >apiserver.ext <<EOF
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:${SERVICE_CIDR%.0/*}.1
EOF
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr 2>/dev/null
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -extfile apiserver.ext -out apiserver.crt 2>/dev/null
  # one client identity for the operator, the controllers, the scheduler and kwok: system:masters
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >client.ext
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=ihp-admin" -keyout admin.key -out admin.csr 2>/dev/null
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -extfile client.ext -out admin.crt 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  chmod 600 ./*.key
)

cat >"$KUBECONFIG_PATH" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ihp-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: ihp-admin
  user:
    client-certificate: $PKI/admin.crt
    client-key: $PKI/admin.key
contexts:
- name: ihp-local
  context:
    cluster: ihp-local
    user: ihp-admin
current-context: ihp-local
EOF
chmod 600 "$KUBECONFIG_PATH"

# start NAME BINARY ARGS...: run in its own session, log to logs/NAME.log, record the pid.
start() {
  local name="$1" bin="$2"
  shift 2
  setsid nohup "$bin" "$@" >"$CLUSTER_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$CLUSTER_DIR/pids/$name.pid"
  clog "started $name (pid $!, log $CLUSTER_DIR/logs/$name.log)"
}
fail() {
  local p
  clog "ERROR: $*"
  for p in "${PROCESSES[@]}"; do
    [[ -f "$CLUSTER_DIR/logs/$p.log" ]] || continue
    clog "---- last lines of $p.log"
    tail -n 15 "$CLUSTER_DIR/logs/$p.log" >&2
  done
  "$IHP_CLUSTER_SRC/down.sh" --keep
  exit 1
}

# ---- etcd ----
start etcd "$ETCD_BIN/etcd" \
  --name ihp --data-dir "$CLUSTER_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "ihp=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync --quota-backend-bytes=$((1024 * 1024 * 1024)) --log-level=warn
wait_for etcd 30 curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health" || fail "etcd did not start"

# ---- kube-apiserver ----
start kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc \
  --service-cluster-ip-range="$SERVICE_CIDR" --service-node-port-range=30000-32767 \
  --authorization-mode=RBAC --allow-privileged=true \
  --profiling=false --v=1
wait_for kube-apiserver 90 apiserver_ready || fail "kube-apiserver did not become ready"

# ---- controllers, scheduler ----
start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig="$KUBECONFIG_PATH" \
  --authentication-kubeconfig="$KUBECONFIG_PATH" --authorization-kubeconfig="$KUBECONFIG_PATH" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$PKI/kcm" \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --use-service-account-credentials=false --leader-elect=false \
  --controllers='*' --profiling=false --v=1
start kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig="$KUBECONFIG_PATH" \
  --authentication-kubeconfig="$KUBECONFIG_PATH" --authorization-kubeconfig="$KUBECONFIG_PATH" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --cert-dir="$PKI/scheduler" \
  --leader-elect=false --profiling=false --v=1

# ---- kwok: the fake kubelets ----
start kwok "$KWOK_DIR/bin/kwok" \
  --kubeconfig="$KUBECONFIG_PATH" --config="$KWOK_STAGES" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --server-address="127.0.0.1:$KWOK_PORT" --cidr="$POD_CIDR" --node-lease-duration-seconds=40 \
  --node-ip="${NODE_IPS[0]}"

# ---- nodes ----
{
  for i in "${!NODE_NAMES[@]}"; do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: ${NODE_NAMES[i]}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: ${NODE_NAMES[i]}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  addresses:
  - type: InternalIP
    address: ${NODE_IPS[i]}
  - type: Hostname
    address: ${NODE_NAMES[i]}
EOF
  done
} >"$CLUSTER_DIR/manifests/nodes.yaml"
kc create -f "$CLUSTER_DIR/manifests/nodes.yaml" >/dev/null || fail "could not create the nodes"
nodes_ready() {
  [[ "$(kc get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c '^True$')" == "${#NODE_NAMES[@]}" ]]
}
wait_for "nodes Ready" 60 nodes_ready || fail "kwok did not make the nodes Ready"
node_ips_kept() {
  [[ "$(kc get nodes -o jsonpath='{range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address}{" "}{end}')" \
    == "${NODE_IPS[*]} " ]]
}
node_ips_kept || fail "node InternalIPs are not ${NODE_IPS[*]}"

# ---- the weave-net fixture ----
wait_for "serviceaccount kube-system/default" 60 kc -n kube-system get serviceaccount default ||
  fail "the serviceaccount controller did not run"
kc apply -f "$IHP_CLUSTER_SRC/fixtures/weave-net.yaml" >/dev/null || fail "could not apply the weave-net fixture"
# available = ready for minReadySeconds (5 s in the manifest)
weave_ready() {
  [[ "$(kc -n kube-system get daemonset weave-net -o jsonpath='{.status.numberReady}/{.status.numberAvailable}')" \
    == "${#NODE_NAMES[@]}/${#NODE_NAMES[@]}" ]]
}
wait_for "daemonset kube-system/weave-net ${#NODE_NAMES[@]}/${#NODE_NAMES[@]} ready and available" 90 weave_ready ||
  fail "weave-net pods did not become ready"

touch "$CLUSTER_DIR/ready"
clog "cluster up in $(($(date +%s) - T0))s: $CLUSTER_DIR (kubectl: $K8S_BIN/kubectl)"
echo "KUBECONFIG=$KUBECONFIG_PATH"
