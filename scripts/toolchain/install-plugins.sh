#!/usr/bin/env bash
# Makes the built plugins visible to the built pulumi CLI without any download:
#  - the language host is copied next to the `pulumi` binary, where the CLI looks for bundled hosts;
#  - the kubernetes and command providers are installed as plugins `resource kubernetes
#    $PULUMI_K8S_VERSION` and `resource command $PULUMI_COMMAND_VERSION` into the toolchain's
#    PULUMI_HOME: the versions the npm SDKs ask the engine for, which are the versions built.
# Idempotent; build.sh runs it after building.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

pulumi_bin="$(dir_of pulumi)/bin"
[[ -x "$pulumi_bin/pulumi" ]] || { echo "install-plugins: pulumi is not built" >&2; exit 1; }

lang="$(dir_of pulumi-language-nodejs)/bin/pulumi-language-nodejs"
if [[ -x "$lang" ]]; then
  if ! cmp -s "$lang" "$pulumi_bin/pulumi-language-nodejs"; then
    install -m 0755 "$lang" "$pulumi_bin/pulumi-language-nodejs"
  fi
  echo "install-plugins: language nodejs -> $pulumi_bin/pulumi-language-nodejs" >&2
else
  echo "install-plugins: pulumi-language-nodejs is not built" >&2
fi

export PULUMI_HOME="$IHP_PULUMI_HOME" PULUMI_SKIP_UPDATE_CHECK=true
mkdir -p "$PULUMI_HOME"

install_resource() { # install_resource NAME VERSION COMPONENT
  local name="$1" version="$2" bin dest
  bin="$(dir_of "$3")/bin/pulumi-resource-$name"
  if [[ ! -x "$bin" ]]; then
    echo "install-plugins: $3 is not built" >&2
    return 0
  fi
  dest="$PULUMI_HOME/plugins/resource-$name-v$version/pulumi-resource-$name"
  if ! cmp -s "$bin" "$dest"; then
    rm -rf "$(dirname "$dest")" "$(dirname "$dest").lock"
    "$pulumi_bin/pulumi" plugin install resource "$name" "$version" --file "$bin" >&2
  fi
  echo "install-plugins: resource $name $version -> $dest" >&2
}

install_resource kubernetes "$PULUMI_K8S_VERSION" pulumi-kubernetes
install_resource command "$PULUMI_COMMAND_VERSION" pulumi-command
