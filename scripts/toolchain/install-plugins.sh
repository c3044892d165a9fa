#!/usr/bin/env bash
# Makes the built plugins visible to the built pulumi CLI without any download:
#  - the language host is copied next to the `pulumi` binary, where the CLI looks for bundled hosts;
#  - the kubernetes provider is installed as plugin resource kubernetes $PULUMI_K8S_PLUGIN_VERSION
#    into the toolchain's PULUMI_HOME (the version the npm SDK asks the engine for).
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
k8s="$(dir_of pulumi-kubernetes)/bin/pulumi-resource-kubernetes"
if [[ -x "$k8s" ]]; then
  dest="$PULUMI_HOME/plugins/resource-kubernetes-v$PULUMI_K8S_PLUGIN_VERSION/pulumi-resource-kubernetes"
  if ! cmp -s "$k8s" "$dest"; then
    rm -rf "$(dirname "$dest")" "$(dirname "$dest").lock"
    "$pulumi_bin/pulumi" plugin install resource kubernetes "$PULUMI_K8S_PLUGIN_VERSION" --file "$k8s" >&2
  fi
  echo "install-plugins: resource kubernetes $PULUMI_K8S_PLUGIN_VERSION -> $dest" >&2
else
  echo "install-plugins: pulumi-kubernetes is not built" >&2
fi
