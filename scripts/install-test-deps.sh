#!/usr/bin/env bash
# Installs what the test tiers need on a fresh Debian machine (as root): the real haproxy, nginx,
# sshd, keepalived and shellcheck the tests run, plus the tools the namespaces tier uses. The njs and
# stream modules are for the real F5 NGINX Ingress Controller (its main template loads both).
set -euo pipefail
packages=(haproxy nginx-light libnginx-mod-http-js libnginx-mod-stream openssh-server openssh-client iproute2 iptables keepalived shellcheck curl wrk socat procps psmisc openssl util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-test-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's packages start services where an init system runs; the tests start their own.
for svc in haproxy nginx ssh keepalived; do
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl stop "$svc" 2>/dev/null || true; fi
done
echo "install-test-deps: ok ($(haproxy -v | head -1 | cut -d' ' -f1-3), $(nginx -v 2>&1), $(keepalived -v 2>&1 | head -1))"
