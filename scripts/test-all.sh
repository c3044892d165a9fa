#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need, then runs every tier in turn.
# IHP_TIERS picks tiers (default: all): unit real netns keepalived engine.
set -euo pipefail
cd "$(dirname "$0")/.."
tiers=${IHP_TIERS:-"unit real netns engine"}
started=$(date +%s)

[ "$(id -u)" = 0 ] || { echo "test-all: the real tiers need root (network namespaces, sshd, apt); run as root or set IHP_TIERS=unit" >&2; exit 1; }
bash scripts/install-test-deps.sh
[ -d node_modules ] || npm ci --no-audit --no-fund

for tier in $tiers; do
  echo "=== tier: $tier ($(($(date +%s) - started))s elapsed)"
  case "$tier" in
    engine) bash scripts/toolchain/build.sh ;;
  esac
  npx vitest run --project "$tier"
done
echo "=== all tiers passed in $(($(date +%s) - started))s: $tiers"
