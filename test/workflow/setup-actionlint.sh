#!/usr/bin/env bash
# Installs actionlint from its Go module into a version-keyed cache folder outside the repo and prints
# the binary's path. Cached: a second run only checks the binary is there.
#
#   test/workflow/setup-actionlint.sh            # install if needed, print the path
#   ACTIONLINT_VERSION=v1.7.12 test/workflow/setup-actionlint.sh
#
# Needs the Go toolchain and a reachable Go module proxy (the machine's `go env GOPROXY`).
set -euo pipefail

version="${ACTIONLINT_VERSION:-v1.7.12}"
cache="${IHP_ACTIONLINT_DIR:-/var/cache/ingress-haproxy-actionlint}"
dir="$cache/actionlint-$version"
bin="$dir/bin/actionlint"

if [[ -x "$bin" && -f "$dir/.complete" ]]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "setup-actionlint: the Go toolchain is needed (go not on PATH)" >&2; exit 1; }
mkdir -p "$dir/bin"
# A private module cache is not needed: the shared one is content-addressed. Build quietly.
GOBIN="$dir/bin" GOFLAGS=-mod=mod CGO_ENABLED=0 \
  go install -ldflags "-s -w -X github.com/rhysd/actionlint.version=$version" "github.com/rhysd/actionlint/cmd/actionlint@$version" >&2
"$bin" -version >&2
touch "$dir/.complete"
echo "$bin"
