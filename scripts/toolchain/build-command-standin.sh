#!/usr/bin/env bash
# Builds the project's stand-in command provider (pulumi-resource-command/, see its README) and installs it
# as plugin `resource command $PULUMI_COMMAND_VERSION` into the toolchain's PULUMI_HOME.
#
#   scripts/toolchain/build-command-standin.sh
#
# Cached in ${IHP_TOOLCHAIN_DIR:-/var/cache/ingress-haproxy-toolchain}/pulumi-command-standin-<hash>/bin, the hash
# covering its sources and the pins it is built with; its tests run with each build (the sshd one only as root).
# The real provider's module is not served by the Go module proxy here: production installs the real plugin.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
SRC="$HERE/pulumi-resource-command"

export GOMODCACHE="${IHP_GOMODCACHE:-$IHP_CACHE/go/mod}"
export GOCACHE="${IHP_GOCACHE:-$IHP_CACHE/go/build}"
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOMAXPROCS="${IHP_GOMAXPROCS:-2}"
GO_P="${IHP_GO_P:-2}"

log() { printf '[command-standin %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

hash="$(cat "$SRC"/*.go "$SRC/go.mod.in" <(echo "$PULUMI_VERSION $PULUMI_COMMAND_VERSION") | sha256sum | cut -c1-10)"
out="$IHP_CACHE/pulumi-command-standin-$PULUMI_COMMAND_VERSION-$hash"
bin="$out/bin/pulumi-resource-command"

if [[ -f "$out/.complete" ]]; then
  log "cached in $out"
else
  mkdir -p "$IHP_CACHE" "$GOMODCACHE" "$GOCACHE"
  work="$IHP_CACHE/work/pulumi-command-standin"
  rm -rf "$work" "$out.partial" && mkdir -p "$work" "$out.partial/bin"
  cp "$SRC/"*.go "$work/"
  sed "s/@PULUMI_VERSION@/$PULUMI_VERSION/g" "$SRC/go.mod.in" >"$work/go.mod"
  t0="$(date +%s)"
  log "building into $out (go $(go env GOVERSION))"
  (cd "$work" && go build -p "$GO_P" -trimpath -ldflags "-s -w -X main.version=$PULUMI_COMMAND_VERSION" \
    -o "$out.partial/bin/pulumi-resource-command" .)
  (cd "$work" && go test -p "$GO_P" -count=1 .)
  printf 'component=pulumi-command-standin\nversion=%s-%s\nbuilt_at=%s\ngo=%s\nseconds=%s\n' \
    "$PULUMI_COMMAND_VERSION" "$hash" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(go env GOVERSION)" "$(($(date +%s) - t0))" \
    >"$out.partial/build-info"
  rm -rf "$out" && mv "$out.partial" "$out" && touch "$out/.complete"
  log "built in $(($(date +%s) - t0))s"
fi

# Install as plugin resource command $PULUMI_COMMAND_VERSION (what @pulumi/command asks the engine for).
pulumi="$(dir_of pulumi)/bin/pulumi"
if [[ ! -x "$pulumi" ]]; then
  log "pulumi is not built: $bin not installed as a plugin (run build.sh pulumi first)"
  exit 1
fi
export PULUMI_HOME="$IHP_PULUMI_HOME" PULUMI_SKIP_UPDATE_CHECK=true
mkdir -p "$PULUMI_HOME"
dest="$PULUMI_HOME/plugins/resource-command-v$PULUMI_COMMAND_VERSION/pulumi-resource-command"
if ! cmp -s "$bin" "$dest"; then
  rm -rf "$(dirname "$dest")" "$(dirname "$dest").lock"
  "$pulumi" plugin install resource command "$PULUMI_COMMAND_VERSION" --file "$bin" >&2
fi
log "resource command $PULUMI_COMMAND_VERSION (stand-in) -> $dest"
