#!/usr/bin/env bash
# Puts the locally built toolchain on PATH and sets Pulumi's offline settings.
#
#   source scripts/toolchain/env.sh          # in a shell, .ci/run or a test script
#   scripts/toolchain/env.sh --path          # only print the PATH value
#   scripts/toolchain/env.sh --check         # exit 1 (listing what is missing) unless everything is built
#
# Builds nothing: run scripts/toolchain/build.sh first (cached, so cheap when already built).
#
# PULUMI_HOME is the toolchain's shared one (it holds the installed provider plugins). A test that
# logs in or keeps state of its own calls `ihp_private_pulumi_home DIR` after sourcing: a fresh
# PULUMI_HOME whose plugins folder is a link to the shared plugins.

_ihp_env_main() {
  # shellcheck source=lib.sh
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh" || return 1
  local c d path="" missing=()
  for c in "${ALL_COMPONENTS[@]}"; do
    d="$(dir_of "$c")" || return 1
    [[ -f "$d/.complete" ]] || missing+=("$c")
    # providers are not put on PATH: the engine would prefer them over the installed plugins and
    # warn on every run; install-plugins.sh installs them into PULUMI_HOME instead.
    case "$c" in pulumi-kubernetes | pulumi-command | pulumi-language-nodejs) continue ;; esac
    path+="$d/bin:"
  done
  case "${1:-}" in
    --path) echo "${path}${PATH}"; return 0 ;;
    --check)
      if ((${#missing[@]})); then echo "toolchain: not built: ${missing[*]} (run scripts/toolchain/build.sh)" >&2; return 1; fi
      return 0 ;;
  esac
  if ((${#missing[@]})); then
    echo "toolchain: not built yet: ${missing[*]} (run scripts/toolchain/build.sh)" >&2
  fi
  export PATH="${path}${PATH}"
  export PULUMI_HOME="$IHP_PULUMI_HOME"
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  export IHP_TOOLCHAIN_DIR="$IHP_CACHE"
}

ihp_private_pulumi_home() {
  mkdir -p "$1" "$IHP_PULUMI_HOME/plugins" && ln -sfn "$IHP_PULUMI_HOME/plugins" "$1/plugins" &&
    export PULUMI_HOME="$1"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  _ihp_env_main "$@"
else
  _ihp_env_main "$@"
  unset -f _ihp_env_main
fi
