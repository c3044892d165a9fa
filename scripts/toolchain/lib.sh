# Shared by build.sh, env.sh and install-plugins.sh: the pins and where each component is cached.
# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this file
IHP_TOOLCHAIN_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$IHP_TOOLCHAIN_SRC/versions.env"
IHP_CACHE="${IHP_TOOLCHAIN_DIR:-/var/cache/ingress-haproxy-toolchain}"

# Components in PATH order. `command` is listed by --list but cannot be built (see README.md).
ALL_COMPONENTS=(kubernetes etcd kwok pulumi pulumi-language-nodejs pulumi-kubernetes)

version_of() {
  case "$1" in
    kubernetes) echo "$KUBERNETES_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    kube-proxy) echo "$KUBERNETES_VERSION" ;;
    # built from a release tarball: keyed on its sha256 too
    nginx-ingress) echo "$NGINX_INGRESS_VERSION-$(sha256sum <"$(upstream_tarball nginx-ingress)" | cut -c1-12)" ;;
    pulumi) echo "$PULUMI_VERSION" ;;
    # the project's own language host is also keyed by a hash of its source
    pulumi-language-nodejs)
      echo "$PULUMI_VERSION-$(cat "$IHP_TOOLCHAIN_SRC/pulumi-language-nodejs/"*.go \
        "$IHP_TOOLCHAIN_SRC/pulumi-language-nodejs/go.mod.in" | sha256sum | cut -c1-10)" ;;
    pulumi-kubernetes) echo "$PULUMI_K8S_PLUGIN_VERSION-${PULUMI_K8S_PROVIDER_MODULE##*-}-sdk$PULUMI_K8S_SDK_MODULE-$(sha256sum <<<"$PULUMI_K8S_REPORTED_VERSION" | cut -c1-6)" ;;
    command) echo "$PULUMI_COMMAND_VERSION" ;;
    *) echo "unknown toolchain component '$1' (known: ${ALL_COMPONENTS[*]} command)" >&2; return 1 ;;
  esac
}
dir_of() { local v; v="$(version_of "$1")" && echo "$IHP_CACHE/$1-$v"; }

# PULUMI_HOME holding the provider plugins installed by install-plugins.sh.
IHP_PULUMI_HOME="${IHP_PULUMI_HOME:-$IHP_CACHE/pulumi-home}"

# ---- real-controller tier: kube-proxy and the F5 NGINX Ingress Controller --------------------------
ALL_COMPONENTS+=(kube-proxy nginx-ingress)
# Release source tarballs (../shared/upstream beside the repo); IHP_UPSTREAM_DIR overrides.
IHP_UPSTREAM_DIR="${IHP_UPSTREAM_DIR:-$IHP_TOOLCHAIN_SRC/../../../shared/upstream}"
upstream_tarball() { # COMPONENT -> path of its release tarball (fails with the setting to fix)
  local f
  case "$1" in
    nginx-ingress) f="$IHP_UPSTREAM_DIR/kubernetes-ingress-$NGINX_INGRESS_VERSION.tar.gz" ;;
    *) echo "no upstream tarball for '$1'" >&2; return 1 ;;
  esac
  [[ -f "$f" ]] || { echo "missing $f: set IHP_UPSTREAM_DIR to the folder holding the upstream release tarballs" >&2; return 1; }
  echo "$f"
}
