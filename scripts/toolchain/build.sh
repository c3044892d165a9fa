#!/usr/bin/env bash
# Builds the local engine toolchain from Go modules at the versions pinned in versions.env.
#
#   scripts/toolchain/build.sh [component ...]     # default: all buildable components
#   scripts/toolchain/build.sh --list              # components and their cache folders
#   scripts/toolchain/build.sh --prune             # drop other versions and Go's build cache (~12 GB)
#
# Each component goes to ${IHP_TOOLCHAIN_DIR:-/var/cache/ingress-haproxy-toolchain}/<component>-<version>/bin
# and is reused while that folder carries a .complete marker: changing one pin rebuilds that component only.
# Go's module and build caches live beside them (go/mod, go/build) so one `rm -rf` frees everything.
# Then: `source scripts/toolchain/env.sh` (or eval the `export PATH=...` line printed at the end).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

export GOMODCACHE="${IHP_GOMODCACHE:-$IHP_CACHE/go/mod}"
export GOCACHE="${IHP_GOCACHE:-$IHP_CACHE/go/build}"
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local            # never fetch another Go: the machine's go (>= 1.26) builds all of this
export CGO_ENABLED=0                # static binaries, no C toolchain needed
export GOMAXPROCS="${IHP_GOMAXPROCS:-2}"
GO_P="${IHP_GO_P:-2}"               # go build -p: packages compiled at once (2 cores here)
mkdir -p "$IHP_CACHE" "$GOMODCACHE" "$GOCACHE"

log() { printf '[toolchain %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

du_mb() { du -sm "$1" 2>/dev/null | cut -f1 || echo 0; }

# A scratch module: go.mod with the given body, in $WORK (recreated for each build).
new_module() {
  local name="$1" body="$2"
  WORK="$IHP_CACHE/work/$name"
  rm -rf "$WORK" && mkdir -p "$WORK"
  printf 'module ihp.local/toolchain/%s\n\ngo 1.26.0\n\n%s\n' "$name" "$body" >"$WORK/go.mod"
}

gobuild() { # gobuild OUTDIR LDFLAGS PKG...
  local out="$1" ld="$2"; shift 2
  (cd "$WORK" && go build -p "$GO_P" -trimpath -ldflags "-s -w $ld" -o "$out/" "$@")
}

# ---- components -------------------------------------------------------------------------------

# A scratch module requiring k8s.io/kubernetes at KUBERNETES_VERSION (shared by kubernetes and kube-proxy).
new_kubernetes_module() { # NAME
  local v="$KUBERNETES_VERSION" gomod repl="" m
  # k8s.io/kubernetes requires its ~33 staging modules at v0.0.0 and replaces them with ./staging/...;
  # replaces of a dependency are ignored, so restate them here at the matching published v0.<minor>.<patch>.
  gomod="$(cd /tmp && go mod download -json "k8s.io/kubernetes@v$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  [[ -f "$gomod" ]] || die "k8s.io/kubernetes@v$v: go.mod not downloaded"
  while read -r m; do
    repl+="replace $m => $m v0.${v#1.}"$'\n'
  done < <(sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod")
  log "$1: $(grep -c '^replace' <<<"$repl") staging modules pinned to v0.${v#1.}"
  new_module "$1" "require k8s.io/kubernetes v$v
$repl"
}

# -X flags that make Kubernetes binaries report KUBERNETES_VERSION.
kubernetes_version_ldflags() {
  local v="$KUBERNETES_VERSION" ld="" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=v$v -X $p.gitMajor=1 -X $p.gitMinor=$(cut -d. -f2 <<<"$v") -X $p.gitTreeState=clean"
  done
  echo "$ld"
}

build_kubernetes() { # OUT
  local out="$1"
  new_kubernetes_module kubernetes
  gobuild "$out/bin" "$(kubernetes_version_ldflags)" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  "$out/bin/kube-apiserver" --version
}

build_etcd() {
  local out="$1"
  # The etcd binary's main lives in the root module go.etcd.io/etcd/v3, whose go.mod replaces its
  # siblings with local paths (so it cannot be installed from the proxy); its body is etcdmain.Main.
  new_module etcd "require go.etcd.io/etcd/server/v3 v$ETCD_VERSION"
  cat >"$WORK/main.go" <<'EOF'
// Command etcd: the etcd server, as built by upstream's root module main.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  mkdir -p "$out/bin"
  (cd "$WORK" && go build -p "$GO_P" -trimpath -ldflags "-s -w" -o "$out/bin/etcd" .)
  "$out/bin/etcd" --version
}

build_kwok() {
  local out="$1"
  new_module kwok "require sigs.k8s.io/kwok v$KWOK_VERSION"
  gobuild "$out/bin" "-X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
  # The kwok controller needs Stage objects (what happens to nodes and pods). Keep upstream's "fast"
  # set from the same module version: nodes become Ready and keep a lease, pods become Ready at once.
  local dir s
  dir="$(cd "$WORK" && go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  mkdir -p "$out/share"
  for s in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    printf -- '---\n' && cat "$dir/kustomize/stage/$s.yaml"
  done >"$out/share/stages.yaml"
  "$out/bin/kwok" --version
}

build_pulumi() {
  local out="$1" v="$PULUMI_VERSION"
  new_module pulumi "require (
	github.com/pulumi/pulumi/pkg/v3 v$v
	github.com/pulumi/pulumi/sdk/v3 v$v
)

replace github.com/atotto/clipboard => ${PULUMI_CLIPBOARD_REPLACE/@/ }"
  gobuild "$out/bin" "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  "$out/bin/pulumi" version
}

# Unpacks the upstream release tarball NAME (pinned by SHA256) into $WORK and prints its top folder.
unpack_upstream() {
  local name="$1" want="$2" file="$IHP_UPSTREAM_DIR/$1" got listed
  [[ -f "$file" ]] || die "$name not found in $IHP_UPSTREAM_DIR (upstream release sources; set IHP_UPSTREAM_DIR to the folder holding them)"
  got="$(sha256sum "$file" | cut -d' ' -f1)"
  listed="$(awk -v n="$name" '$2 == n { print $1 }' "$IHP_UPSTREAM_DIR/SHA256SUMS" 2>/dev/null || true)"
  [[ "$got" == "$want" ]] || die "$file has sha256 $got, versions.env pins $want"
  [[ "$listed" == "$want" ]] || die "$IHP_UPSTREAM_DIR/SHA256SUMS lists $name as '${listed:-nothing}', versions.env pins $want"
  WORK="$IHP_CACHE/work/${name%.tar.gz}"
  rm -rf "$WORK" && mkdir -p "$WORK"
  tar -xzf "$file" -C "$WORK"
  echo "$WORK/${name%.tar.gz}"
}

build_pulumi-language-nodejs() {
  # Upstream's host from the monorepo's release source; its go.mod replaces pkg/v3 and sdk/v3 with the
  # monorepo's folders (not in the tarball), so require the served modules of the same release instead.
  local out="$1" v="$PULUMI_VERSION" src
  src="$(unpack_upstream "pulumi-language-nodejs-$v.tar.gz" "$PULUMI_LANGUAGE_NODEJS_SHA256")/sdk/nodejs/cmd/pulumi-language-nodejs"
  (cd "$src" && go mod edit \
    -dropreplace github.com/pulumi/pulumi/pkg/v3 -dropreplace github.com/pulumi/pulumi/sdk/v3 \
    -require "github.com/pulumi/pulumi/pkg/v3@v$v" -require "github.com/pulumi/pulumi/sdk/v3@v$v")
  (cd "$src" && go build -p "$GO_P" -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" \
    -o "$out/bin/pulumi-language-nodejs" .)
  "$out/bin/pulumi-language-nodejs" -version
}

build_pulumi-command() {
  local out="$1" src
  src="$(unpack_upstream "pulumi-command-$PULUMI_COMMAND_VERSION.tar.gz" "$PULUMI_COMMAND_SHA256")/provider"
  (cd "$src" && go build -p "$GO_P" -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=v$PULUMI_COMMAND_VERSION" \
    -o "$out/bin/pulumi-resource-command" ./cmd/pulumi-resource-command)
}

build_pulumi-kubernetes() {
  local out="$1" dir
  new_module pulumi-kubernetes "require (
	github.com/pulumi/pulumi-kubernetes/provider/v4 $PULUMI_K8S_PROVIDER_MODULE
	github.com/pulumi/pulumi-kubernetes/sdk/v4 $PULUMI_K8S_SDK_MODULE
)"
  # Upstream's main embeds a minified schema generated at release time; the module ships the same
  # schema as provider/cmd/pulumi-resource-kubernetes/schema.json, so embed that one.
  dir="$(cd "$WORK" && go mod download -json "github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_K8S_PROVIDER_MODULE" |
    sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  cp "$dir/cmd/pulumi-resource-kubernetes/schema.json" "$dir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" "$WORK/"
  chmod u+w "$WORK/"*.json
  cat >"$WORK/main.go" <<'EOF'
// Command pulumi-resource-kubernetes serves the Kubernetes provider with the schema shipped in its module.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() { provider.Serve("kubernetes", version.Version, schema, terraformMapping) }
EOF
  mkdir -p "$out/bin"
  (cd "$WORK" && go build -p "$GO_P" -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_K8S_VERSION" \
    -o "$out/bin/pulumi-resource-kubernetes" .)
}


# kube-proxy from the control plane's release: its own component, so the kubernetes folder stays valid.
build_kube-proxy() { # OUT
  local out="$1"
  new_kubernetes_module kube-proxy
  gobuild "$out/bin" "$(kubernetes_version_ldflags)" k8s.io/kubernetes/cmd/kube-proxy
  "$out/bin/kube-proxy" --version
}

# The F5 NGINX Ingress Controller from its release source in upstream/ (not served as a module at a tag
# that builds alone). bin/nginx-ingress plus share/: the four templates it reads from its working
# directory and the njs script its main template imports from /etc/nginx/njs.
build_nginx-ingress() { # OUT
  local out="$1" src
  src="$(upstream_tarball nginx-ingress)"
  WORK="$IHP_CACHE/work/nginx-ingress"
  rm -rf "$WORK" && mkdir -p "$WORK"
  tar -xzf "$src" -C "$WORK" --strip-components=1
  (cd "$WORK" && go build -p "$GO_P" -trimpath -ldflags "-s -w -X main.version=$NGINX_INGRESS_VERSION" \
    -o "$out/bin/nginx-ingress" ./cmd/nginx-ingress)
  mkdir -p "$out/share/templates" "$out/share/njs"
  cp "$WORK/internal/configs/version1/nginx.tmpl" "$WORK/internal/configs/version1/nginx.ingress.tmpl" \
    "$WORK/internal/configs/version2/nginx.virtualserver.tmpl" \
    "$WORK/internal/configs/version2/nginx.transportserver.tmpl" "$out/share/templates/"
  cp "$WORK/internal/configs/njs/apikey_auth.js" "$out/share/njs/"
  "$out/bin/nginx-ingress" -version
}

# ---- driver -----------------------------------------------------------------------------------

binaries_of() {
  case "$1" in
    kubernetes) echo kube-apiserver kube-controller-manager kube-scheduler kubectl ;;
    pulumi-kubernetes) echo pulumi-resource-kubernetes ;;
    pulumi-command) echo pulumi-resource-command ;;
    *) echo "$1" ;;
  esac
}

build_one() {
  local c="$1" out tmp t0 t1 mod0 gc0 secs
  out="$(dir_of "$c")"
  if [[ -f "$out/.complete" ]]; then
    log "$c $(version_of "$c"): cached in $out"
    return 0
  fi
  tmp="$out.partial"
  rm -rf "$tmp" && mkdir -p "$tmp/bin"
  mod0="$(du_mb "$GOMODCACHE")"; gc0="$(du_mb "$GOCACHE")"; t0="$(date +%s)"
  log "$c $(version_of "$c"): building into $out (go $(go env GOVERSION), GOMAXPROCS=$GOMAXPROCS, -p $GO_P)"
  "build_$c" "$tmp"
  local b
  for b in $(binaries_of "$c"); do
    [[ -x "$tmp/bin/$b" ]] || die "$c: $b was not built"
  done
  t1="$(date +%s)"; secs=$((t1 - t0))
  {
    echo "component=$c"
    echo "version=$(version_of "$c")"
    echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "go=$(go env GOVERSION)"
    echo "seconds=$secs"
    echo "bin_mb=$(du_mb "$tmp/bin")"
    echo "gomodcache_added_mb=$(($(du_mb "$GOMODCACHE") - mod0))"
    echo "gocache_added_mb=$(($(du_mb "$GOCACHE") - gc0))"
  } >"$tmp/build-info"
  rm -rf "$out" && mv "$tmp" "$out"
  touch "$out/.complete"
  log "$c: done in $((secs / 60))m$((secs % 60))s; $(tr '\n' ' ' <"$out/build-info")"
}

main() {
  local comps=() c failed=()
  if [[ "${1:-}" == "--list" ]]; then
    for c in "${ALL_COMPONENTS[@]}"; do
      printf '%-24s %s %s\n' "$c" "$(dir_of "$c")" "$([[ -f "$(dir_of "$c")/.complete" ]] && echo built || echo missing)"
    done
    return 0
  fi
  if [[ "${1:-}" == "--prune" ]]; then
    # Frees disk after a build: component folders of other versions, scratch modules and Go's build
    # cache (the biggest part). The module cache stays, so a later rebuild compiles but downloads nothing.
    local keep d
    for d in "$IHP_CACHE"/*/; do
      d="${d%/}"
      case "$(basename "$d")" in go | pulumi-home) continue ;; esac
      keep=false
      for c in "${ALL_COMPONENTS[@]}"; do [[ "$d" == "$(dir_of "$c")" ]] && keep=true; done
      $keep || { log "removing $d"; rm -rf "$d"; }
    done
    log "removing Go's build cache $GOCACHE ($(du_mb "$GOCACHE") MB)"
    go clean -cache
    log "cache $IHP_CACHE now uses $(du_mb "$IHP_CACHE") MB"
    return 0
  fi
  # One build per cache at a time: two would remove each other's half-built folders.
  exec 8>>"$IHP_CACHE/.build.lock"
  flock -n 8 || { log "waiting for another build into $IHP_CACHE"; flock 8; }
  if (($#)); then comps=("$@"); else comps=("${ALL_COMPONENTS[@]}"); fi
  local T0; T0="$(date +%s)"
  for c in "${comps[@]}"; do
    version_of "$c" >/dev/null
    # In the background and waited for: a subshell in an `if` would run with `set -e` switched off.
    (build_one "$c") &
    if ! wait $!; then failed+=("$c"); log "$c: FAILED"; fi
  done
  # Plugins into the private PULUMI_HOME, so the engine finds them without downloading anything.
  if [[ -f "$(dir_of pulumi)/.complete" ]]; then
    "$HERE/install-plugins.sh" || failed+=("plugin-install")
  fi
  log "total $(($(date +%s) - T0))s; cache $IHP_CACHE uses $(du_mb "$IHP_CACHE") MB"
  echo "export PATH=\"$("$HERE/env.sh" --path)\""
  if ((${#failed[@]})); then log "failed: ${failed[*]}"; return 1; fi
}

main "$@"
