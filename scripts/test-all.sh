#!/usr/bin/env bash
# The one test command (README, .ci/run): runs the chosen tiers in turn and ends with one line for all
# of them together: `N passed, N failed` (`, N skipped` when any).
#
#   IHP_TIERS="unit real"   tiers to run, in this order (default: unit real netns engine)
#   IHP_ALLOW_SKIPPED=1     skipped tests do not fail the run (default: a skipped test fails it)
#
# Only the real, netns and engine tiers need root (network namespaces, sshd, apt); they install their
# packages first and hold a machine-wide lock (IHP_TIERS_LOCK, default /run/ihp-tiers.lock) so two runs
# never share the namespace hosts, ports or local control plane. The unit tier needs neither.
set -euo pipefail
cd "$(dirname "$0")/.."

VALID_TIERS=(unit real netns engine)
read -r -a tiers <<< "${IHP_TIERS:-${VALID_TIERS[*]}}"
((${#tiers[@]})) || { echo "test-all: IHP_TIERS is empty; choose from: ${VALID_TIERS[*]}" >&2; exit 2; }
root_tiers=()
for tier in "${tiers[@]}"; do
  case " ${VALID_TIERS[*]} " in
    *" $tier "*) ;;
    *) echo "test-all: unknown tier '$tier'; valid tiers: ${VALID_TIERS[*]} (keepalived's netns tests are in netns)" >&2; exit 2 ;;
  esac
  [[ $tier == unit ]] || root_tiers+=("$tier")
done

# The engine tier's toolchain is built (or found cached) before the machine-wide lock is taken: a cold
# build takes tens of minutes and needs none of the shared namespaces, so other runs are not held up by it.
toolchain_code=0
case " ${tiers[*]} " in *" engine "*) bash scripts/toolchain/build.sh || toolchain_code=$? ;; esac

if ((${#root_tiers[@]})); then
  [[ $(id -u) == 0 ]] || { echo "test-all: the ${root_tiers[*]} tier(s) need root (network namespaces, sshd, apt); run as root, or IHP_TIERS=unit" >&2; exit 1; }
  lock=${IHP_TIERS_LOCK:-/run/ihp-tiers.lock}
  exec 9>> "$lock"
  if ! flock -n 9; then
    # Already held by one of our own ancestors (e.g. `flock /run/ihp-tiers.lock npm test`): that is us.
    holder=$(awk -v ino=":$(stat -c %i "$lock") " 'index($0, ino) && $2 == "FLOCK" && $1 !~ /->/ { print $5; exit }' /proc/locks)
    ancestor=
    for ((p = PPID; p > 1; p = $(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 1))); do
      [[ $p == "$holder" ]] && { ancestor=1; break; }
    done
    if [[ -z $ancestor ]]; then
      echo "test-all: waiting for another test run (pid ${holder:-?}) to release $lock" >&2
      flock 9
    fi
  fi
  bash scripts/install-test-deps.sh
fi
[ -d node_modules ] || npm ci --no-audit --no-fund

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
started=$(date +%s)
for tier in "${tiers[@]}"; do
  echo "=== tier: $tier ($(($(date +%s) - started))s elapsed)"
  code=0
  if [[ $tier == engine ]]; then code=$toolchain_code; fi
  if ((code == 0)); then
    npx vitest run --project "$tier" --reporter=default --reporter=json --outputFile.json="$results/$tier.json" || code=$?
  fi
  echo "$code" > "$results/$tier.exit"
done
echo "=== tiers ${tiers[*]} took $(($(date +%s) - started))s"
node scripts/test-summary.mjs "$results" "${tiers[@]}"
