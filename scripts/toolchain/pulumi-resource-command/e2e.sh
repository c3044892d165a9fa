#!/usr/bin/env bash
# shellcheck disable=SC2015  # ok/bad always succeed: `A && ok || bad` is an if-then-else here
# The stand-in command provider under the real engine: a tiny Node.js Pulumi program with one
# command.remote.Command (secret private key, secret stdin, pinned host key) against the machine's sshd on
# 127.0.0.1 (generated keys, -D), run by the built `pulumi` with a file backend: up, no-change up,
# up with changed stdin (update), destroy (delete command), then a wrong host key (fails, nothing runs).
# Needs root, /usr/sbin/sshd, the built toolchain (build.sh + build-command-standin.sh) and npm ci.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=../env.sh
source "$HERE/../env.sh"

T="$(mktemp -d /tmp/ihp-command-e2e.XXXXXX)"
chmod 700 "$T"
SSHD_PID=""
cleanup() { [[ -n "$SSHD_PID" ]] && kill "$SSHD_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
pass=0; failc=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; failc=$((failc + 1)); }

ssh-keygen -q -t ed25519 -N '' -C host -f "$T/host"
ssh-keygen -q -t ed25519 -N '' -C wrong -f "$T/wrong"
ssh-keygen -q -t ed25519 -N '' -C client -f "$T/client"
cp "$T/client.pub" "$T/authorized_keys"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >"$T/sshd_config" <<CFG
ListenAddress 127.0.0.1:$PORT
HostKey $T/host
AuthorizedKeysFile $T/authorized_keys
PidFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
CFG
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

mkdir -p "$T/prog" "$T/state" "$T/out"
ln -s "$REPO/node_modules" "$T/prog/node_modules"
echo '{"name": "command-standin-e2e", "private": true}' >"$T/prog/package.json"
cat >"$T/prog/Pulumi.yaml" <<'Y'
name: command-standin-e2e
runtime:
  name: nodejs
  options:
    typescript: false
main: index.js
Y
cat >"$T/prog/index.js" <<'JS'
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const cfg = new pulumi.Config();
const out = cfg.require("out");
const cmd = new command.remote.Command("push", {
  connection: {
    host: "127.0.0.1", port: cfg.requireNumber("port"), privateKey: cfg.requireSecret("privateKey"),
    hostKey: cfg.require("hostKey"), dialErrorLimit: 1, perDialTimeout: 5,
  },
  create: `cat > ${out}/cfg && echo pushed $(sha256sum < ${out}/cfg | cut -c1-12) && echo run >> ${out}/runs`,
  delete: `rm -f ${out}/cfg && echo restored`,
  stdin: cfg.requireSecret("payload"),
  logging: "stdoutAndStderr",
}, { additionalSecretOutputs: ["stdout", "stderr"], deleteBeforeReplace: true });
exports.stdout = cmd.stdout;
JS
export PULUMI_BACKEND_URL="file://$T/state" PULUMI_CONFIG_PASSPHRASE=x
ihp_private_pulumi_home "$T/home"
cd "$T/prog"
pulumi stack init dev >/dev/null
pulumi config set port "$PORT"
pulumi config set out "$T/out"
pulumi config set hostKey "$(cat "$T/host.pub")"
pulumi config set --secret privateKey <"$T/client"
pulumi config set --secret payload "secret-payload-v1"

runs() { wc -l <"$T/out/runs" 2>/dev/null || echo 0; }

if pulumi up --yes --skip-preview >"$T/up1.log" 2>&1 && [[ "$(cat "$T/out/cfg")" == secret-payload-v1 ]]; then
  ok "up: create ran with the secret stdin"
else
  bad "up: create"; cat "$T/up1.log" "$T/sshd.log"; exit 1
fi
grep -q "pushed " "$T/up1.log" && ok "up: stdout lines logged (logging stdoutAndStderr)" || bad "up: stdout not logged"
grep -q "secret-payload\|PRIVATE KEY" "$T/up1.log" && bad "up: an input reached the output" || ok "up: no input in the output"
pulumi stack export >"$T/state1.json"
grep -q "secret-payload\|pushed [0-9a-f]\{12\}\|PRIVATE KEY" "$T/state1.json" && bad "state holds the stdin in clear" || ok "state: stdin, key and stdout encrypted"

pulumi preview --diff >"$T/pre.log" 2>&1 && ! grep -qE "to (create|update|replace|delete)" "$T/pre.log" && ok "preview: unchanged" || { bad "preview not unchanged"; cat "$T/pre.log"; }
pulumi up --yes --skip-preview >"$T/up2.log" 2>&1 && [[ "$(runs)" == 1 ]] && ok "up without change: nothing ran" || { bad "no-change up"; cat "$T/up2.log"; }

pulumi config set --secret payload "secret-payload-v2"
pulumi preview --diff >"$T/pre2.log" 2>&1 && grep -q "~ 1 to update\|1 to update" "$T/pre2.log" && ok "preview: stdin change is an update" || { bad "preview update"; cat "$T/pre2.log"; }
pulumi up --yes --skip-preview >"$T/up3.log" 2>&1 && [[ "$(cat "$T/out/cfg")" == secret-payload-v2 && "$(runs)" == 2 ]] &&
  ok "up: changed stdin re-ran create (update)" || { bad "update"; cat "$T/up3.log"; }

pulumi destroy --yes --skip-preview >"$T/destroy.log" 2>&1 && [[ ! -e "$T/out/cfg" ]] && grep -q restored "$T/destroy.log" &&
  ok "destroy: delete command ran" || { bad "destroy"; cat "$T/destroy.log"; }

# wrong pinned host key: up fails, the command never runs
pulumi config set hostKey "$(cat "$T/wrong.pub")"
if pulumi up --yes --skip-preview >"$T/up4.log" 2>&1; then bad "up with a wrong host key succeeded"; else
  grep -q "host key mismatch" "$T/up4.log" && [[ "$(runs)" == 2 && ! -e "$T/out/cfg" ]] &&
    ok "wrong host key: up failed, nothing ran" || { bad "wrong host key"; cat "$T/up4.log"; }
fi
echo "$pass passed, $failc failed"
((failc == 0))
