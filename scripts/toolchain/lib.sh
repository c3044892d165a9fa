# Shared by build.sh, env.sh and install-plugins.sh: the pins and where each component is cached.
# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this file
IHP_TOOLCHAIN_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$IHP_TOOLCHAIN_SRC/versions.env"
IHP_CACHE="${IHP_TOOLCHAIN_DIR:-/var/cache/ingress-haproxy-toolchain}"

# Release source tarballs of upstream parts the module proxy does not serve (see versions.env); CI
# clones the repository with shared/ beside it.
IHP_UPSTREAM_DIR="${IHP_UPSTREAM_DIR:-$IHP_TOOLCHAIN_SRC/../../../shared/upstream}"

# Components in PATH order.
ALL_COMPONENTS=(kubernetes etcd kwok pulumi pulumi-language-nodejs pulumi-kubernetes pulumi-command)

version_of() {
  case "$1" in
    kubernetes) echo "$KUBERNETES_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    kube-proxy) echo "$KUBERNETES_VERSION" ;;
    # built from a release tarball: keyed on its sha256 too
    nginx-ingress) echo "$NGINX_INGRESS_VERSION-$(sha256sum <"$(upstream_tarball nginx-ingress)" | cut -c1-12)" ;;
    pulumi) echo "$PULUMI_VERSION" ;;
    # built from a source tarball: keyed on its sha256 too
    pulumi-language-nodejs) echo "$PULUMI_VERSION-${PULUMI_LANGUAGE_NODEJS_SHA256:0:12}" ;;
    pulumi-command) echo "$PULUMI_COMMAND_VERSION-${PULUMI_COMMAND_SHA256:0:12}" ;;
    pulumi-kubernetes) echo "$PULUMI_K8S_VERSION-${PULUMI_K8S_PROVIDER_MODULE##*-}" ;;
    *) echo "unknown toolchain component '$1' (known: ${ALL_COMPONENTS[*]})" >&2; return 1 ;;
  esac
}
dir_of() { local v; v="$(version_of "$1")" && echo "$IHP_CACHE/$1-$v"; }

# PULUMI_HOME holding the provider plugins installed by install-plugins.sh.
IHP_PULUMI_HOME="${IHP_PULUMI_HOME:-$IHP_CACHE/pulumi-home}"

# ---- real-controller tier: kube-proxy and the F5 NGINX Ingress Controller --------------------------
ALL_COMPONENTS+=(kube-proxy nginx-ingress)
upstream_tarball() { # COMPONENT -> path of its release tarball (fails with the setting to fix)
  local f
  case "$1" in
    nginx-ingress) f="$IHP_UPSTREAM_DIR/kubernetes-ingress-$NGINX_INGRESS_VERSION.tar.gz" ;;
    *) echo "no upstream tarball for '$1'" >&2; return 1 ;;
  esac
  [[ -f "$f" ]] || { echo "missing $f: set IHP_UPSTREAM_DIR to the folder holding the upstream release tarballs" >&2; return 1; }
  echo "$f"
}
