// Drift check: does each load balancer still run the haproxy.cfg Pulumi pushed?
//
//   npx tsx scripts/drift-check.ts --stack dev                  # expected: `pulumi stack output loadBalancers`
//   npx tsx scripts/drift-check.ts --expected hashes.json [--config Pulumi.dev.yaml]
//
// hashes.json has the shape of the stack output: { "lb-1": { "address", "configPath", "configSha256" } },
// optionally with "sshPort", "user", "hostKey" per host; otherwise those come from the stack config
// (Pulumi.<stack>.yaml, or --config). SSH key: --key-file PATH, or env DRIFT_SSH_KEY_FILE, or the key
// itself in env DRIFT_SSH_KEY; it is never printed. Host keys are pinned through a generated known_hosts.
// Prints `lb-1 ok <digest>` / `lb-2 DRIFTED live=<digest> expected=<digest>` / `lb-3 ERROR <why>`;
// exits 0 when all match, 1 on drift, 2 when a host could not be checked. The live file is read over
// ssh (`cat`) and digested here: a bare sha256 for secret-free files, "hmac-sha256:<hex>" keyed with the
// key derived from the SSH private key for files with secrets (stats on) — never a plain digest of those.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { digestKey } from "../components/haproxy/digest";
import { compareDrift, driftTargets, knownHostsLine, liveDigest, type DriftTarget, type ExpectedLoadBalancer, type LiveAnswer } from "../components/haproxy/drift";
import { shellQuote } from "../components/haproxy/push-script";
import { CONFIG_NAMESPACE, checkSettings, type ParsedSettings } from "../components/settings";

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npx tsx scripts/drift-check.ts (--stack NAME | --expected FILE.json) [--config Pulumi.NAME.yaml] [--key-file PATH]\n`);
  process.exit(2);
}

function args(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (!["--stack", "--expected", "--config", "--key-file"].includes(flag) || value === undefined) usage(`unexpected argument ${flag}`);
    out[flag.slice(2)] = value;
  }
  return out;
}

function expectedFromStack(stack: string): Record<string, ExpectedLoadBalancer> {
  const r = spawnSync("pulumi", ["stack", "output", "loadBalancers", "--json", "--stack", stack], { encoding: "utf8" });
  if (r.status !== 0) usage(`pulumi stack output failed: ${(r.stderr || String(r.error)).trim()}`);
  return JSON.parse(r.stdout);
}

/** The stack's settings without its nodes (drift needs only the load balancers; a nodeDiscovery stack needs no cluster here). */
function settingsFromFile(path: string): ParsedSettings {
  const doc = parseYaml(readFileSync(path, "utf8")) as { config?: Record<string, unknown> };
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc?.config ?? {})) if (k.startsWith(`${CONFIG_NAMESPACE}:`)) raw[k.slice(CONFIG_NAMESPACE.length + 1)] = v;
  for (const secret of ["sshPrivateKey", "statsPassword", "vrrpPassword"]) delete raw[secret];
  return checkSettings(raw, { sshPrivateKey: true, statsPassword: true, vrrpPassword: true });
}

function liveHash(t: DriftTarget, keyFile: string, dir: string, keyHex: string): LiveAnswer {
  const knownHosts = join(dir, `known_hosts-${t.name}`);
  writeFileSync(knownHosts, knownHostsLine(t.address, t.sshPort, t.hostKey) + "\n");
  const r = spawnSync(
    "ssh",
    [
      "-i", keyFile,
      "-o", "IdentitiesOnly=yes",
      "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=yes",
      "-o", `UserKnownHostsFile=${knownHosts}`,
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "ConnectTimeout=10",
      "-o", "LogLevel=ERROR",
      "-p", String(t.sshPort),
      "-l", t.user,
      "--", t.address,
      `cat -- ${shellQuote(t.configPath)}`,
    ],
    { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
  );
  if (r.error) return { error: String(r.error.message) };
  return liveDigest(r.stdout, r.stderr.toString("utf8"), r.status ?? 255, t.expectedSha256, keyHex);
}

function main(): void {
  const a = args(process.argv.slice(2));
  if (!a.stack === !a.expected) usage("give exactly one of --stack or --expected");
  const expected = a.stack ? expectedFromStack(a.stack) : (JSON.parse(readFileSync(a.expected, "utf8")) as Record<string, ExpectedLoadBalancer>);
  const configFile = a.config ?? (a.stack ? `Pulumi.${a.stack}.yaml` : undefined);
  const settings = configFile && existsSync(configFile) ? settingsFromFile(configFile) : undefined;
  if (a.config && !settings) usage(`no such config file ${a.config}`);
  let targets: DriftTarget[];
  try {
    targets = driftTargets(expected, settings);
  } catch (e) {
    usage((e as Error).message);
  }

  const dir = mkdtempSync(join(tmpdir(), "drift-check-"));
  try {
    let keyFile = a["key-file"] ?? process.env.DRIFT_SSH_KEY_FILE;
    if (!keyFile) {
      const key = process.env.DRIFT_SSH_KEY;
      if (!key) usage("no SSH key: pass --key-file PATH, or set DRIFT_SSH_KEY_FILE or DRIFT_SSH_KEY");
      keyFile = join(dir, "key");
      writeFileSync(keyFile, key.endsWith("\n") ? key : key + "\n", { mode: 0o600 });
      chmodSync(keyFile, 0o600);
    }
    const live: Record<string, LiveAnswer> = {};
    const keyHex = digestKey(readFileSync(keyFile, "utf8"));
    for (const t of targets) live[t.name] = liveHash(t, keyFile, dir, keyHex);
    const report = compareDrift(targets, live);
    for (const line of report.lines) process.stdout.write(line + "\n");
    process.exitCode = report.exitCode;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
