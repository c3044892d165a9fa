// 5. Engine time, and the engine's own count of what changes when one node is added: the locally built
// Pulumi CLI and Kubernetes provider (scripts/toolchain) against a private local control plane
// (scripts/cluster, own folder and ports), file backend.
//
// The command provider cannot be built here (scripts/toolchain/README.md), so the program run is the
// real index.ts with ONE substitution: `command.remote.Command` is replaced, before index.ts loads, by
// a stand-in that registers a Kubernetes ConfigMap (namespace default) holding the very inputs the
// Command gets (create and delete scripts, stdin = the rendered haproxy.cfg, secret). So the engine sees
// the same resource graph, one resource per LB push with the same bytes, and diffs it for real; it
// does not time an SSH push (that is section 2's push script).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { CONFIG_NAMESPACE } from "../components/settings";
import { REPO } from "./configs";
import { scaledRaw } from "./scale-config";

export interface EngineResult {
  ran: boolean;
  lines: string[];
  figures?: Record<string, unknown>;
}

const CLUSTER_DIR = "/tmp/ihp-bench-cluster";
const PORT_BASE = 28400;

const PROGRAM = `// Written by bench/engine.ts: the real index.ts with command.remote.Command replaced by a stand-in.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

class CommandStandIn extends pulumi.ComponentResource {
  constructor(name: string, args: Record<string, any>, opts?: pulumi.CustomResourceOptions) {
    super("bench:standin:RemoteCommand", name, {}, { parent: opts?.parent, dependsOn: opts?.dependsOn });
    new k8s.core.v1.ConfigMap(name, {
      metadata: { name: name.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 63), namespace: "default" },
      data: { create: args.create, delete: args.delete, stdin: args.stdin, host: pulumi.output(args.connection).apply((c: any) => String(c.host)) },
    }, { parent: this });
    this.registerOutputs({});
  }
}
const path = require.resolve("@pulumi/command", { paths: [${JSON.stringify(REPO)}] });
require.cache[path] = { id: path, filename: path, loaded: true, exports: { remote: { Command: CommandStandIn } } } as any;
const program = require(${JSON.stringify(join(REPO, "index"))});
export const loadBalancers = program.loadBalancers;
`;

type Log = (...m: unknown[]) => void;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, input?: string): Promise<{ status: number | null; out: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { cwd, env, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    if (input !== undefined) child.stdin!.end(input);
    const timer = setTimeout(() => child.kill("SIGTERM"), 600_000);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, out, seconds: (performance.now() - t) / 1000 });
    });
  });
}

/** "~ 2 to update", "+ 20 to create", "21 unchanged" ... from the preview/up summary. */
function summary(out: string): string {
  const m = out.split("\n").filter((l) => /^\s+([-+~]|\+-)?\s*\d+ (to create|to update|to delete|to replace|unchanged|created|updated|deleted|replaced)/.test(l));
  return m.map((l) => l.trim()).join(", ");
}

/** From `pulumi preview --json`: every step that is not "same", as "op type name". */
function changedResources(out: string): { steps: string[]; summary: string } {
  const doc = JSON.parse(out.slice(out.indexOf("{"))) as { steps?: { op: string; urn: string }[]; changeSummary?: Record<string, number> };
  const steps = (doc.steps ?? [])
    .filter((st) => st.op !== "same")
    .map((st) => {
      const parts = st.urn.split("::");
      return `${st.op} ${parts[parts.length - 2].split("$").pop()} ${parts[parts.length - 1]}`;
    });
  return { steps, summary: Object.entries(doc.changeSummary ?? {}).map(([k, v]) => `${k} ${v}`).join(", ") };
}

export async function engineSection(quick: boolean, log: Log): Promise<EngineResult> {
  const check = spawnSync("bash", ["scripts/toolchain/env.sh", "--check"], { cwd: REPO, encoding: "utf8" });
  if (check.status !== 0)
    return { ran: false, lines: [`SKIPPED: the engine toolchain is not built (${(check.stderr || check.stdout).trim()}); run scripts/toolchain/build.sh, then npm run bench -- --only=engine.`] };
  const toolPath = spawnSync("bash", ["scripts/toolchain/env.sh", "--path"], { cwd: REPO, encoding: "utf8" }).stdout.trim();
  const sharedHome = spawnSync("bash", ["-c", "source scripts/toolchain/lib.sh && echo $IHP_PULUMI_HOME"], { cwd: REPO, encoding: "utf8" }).stdout.trim();
  const clusterEnv = { ...process.env, PATH: toolPath, IHP_CLUSTER_DIR: CLUSTER_DIR, IHP_CLUSTER_PORT_BASE: String(PORT_BASE) };
  const work = mkdtempSync(join(tmpdir(), "ihp-bench-engine-"));
  const lines: string[] = [];
  const figures: Record<string, unknown> = {};
  try {
    log("engine: starting a private control plane");
    const up = spawnSync("bash", ["scripts/cluster/up.sh"], { cwd: REPO, env: clusterEnv, encoding: "utf8", timeout: 300_000 });
    if (up.status !== 0) return { ran: false, lines: [`SKIPPED: scripts/cluster/up.sh failed (exit ${up.status}): ${(up.stderr || "").trim().split("\n").slice(-3).join(" / ")}`] };
    const kubeconfig = up.stdout.trim().split("\n").pop()!.replace(/^KUBECONFIG=/, "");

    writeFileSync(join(work, "Pulumi.yaml"), "name: ingress-haproxy\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
    writeFileSync(join(work, "package.json"), '{ "name": "ihp-bench-engine", "private": true }\n');
    writeFileSync(join(work, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true } }));
    writeFileSync(join(work, "index.ts"), PROGRAM);
    symlinkSync(join(REPO, "node_modules"), join(work, "node_modules"));
    mkdirSync(join(work, "state"));
    mkdirSync(join(work, "pulumi-home"));
    symlinkSync(join(sharedHome, "plugins"), join(work, "pulumi-home", "plugins"));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: toolPath,
      KUBECONFIG: kubeconfig,
      PULUMI_HOME: join(work, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${join(work, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "ihp-bench-only",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
    const pulumi = (...a: string[]) => run("pulumi", [...a, "--non-interactive", "--color", "never"], env, work);
    const stackName = "bench";
    const stackFile = join(work, `Pulumi.${stackName}.yaml`);
    const writeStack = (n: number) => {
      const raw = scaledRaw("prod", n);
      const old = (() => {
        try {
          return (YAML.parse(readFileSync(stackFile, "utf8")) ?? {}) as { config?: Record<string, unknown> };
        } catch {
          return {} as { config?: Record<string, unknown> };
        }
      })();
      const config: Record<string, unknown> = { ...(old.config ?? {}) };
      for (const [k, v] of Object.entries(raw)) config[`${CONFIG_NAMESPACE}:${k}`] = v;
      writeFileSync(stackFile, YAML.stringify({ ...old, config }));
    };
    const init = await pulumi("stack", "init", stackName);
    if (init.status !== 0) throw new Error(`pulumi stack init: ${init.out}`);
    writeStack(3);
    for (const [k, v] of [["sshPrivateKey", "bench-not-a-key"], ["statsPassword", "bench-stats-password"]]) {
      const r = await run("pulumi", ["config", "set", "--secret", k, "--stack", stackName, "--non-interactive"], env, work, v + "\n");
      if (r.status !== 0) throw new Error(`pulumi config set ${k}: ${r.out}`);
    }

    const rows: string[] = [];
    const sizes = quick ? [3] : [3, 100];
    let first = true;
    for (const n of sizes) {
      writeStack(n);
      log(`engine: ${n} nodes`);
      const apply = await pulumi("up", "--yes", "--skip-preview", "--stack", stackName);
      if (apply.status !== 0) throw new Error(`pulumi up (${n} nodes) failed:\n${apply.out.slice(-3000)}`);
      const applyWhat = first ? "first `up` (creates everything)" : `\`up\` ${sizes[sizes.indexOf(n) - 1]} -> ${n} nodes`;
      first = false;
      const preview = await pulumi("preview", "--stack", stackName);
      const noop = await pulumi("up", "--yes", "--skip-preview", "--stack", stackName);
      writeStack(n + 1);
      const plus = await pulumi("preview", "--json", "--stack", stackName);
      let changed: { steps: string[]; summary: string };
      try {
        changed = changedResources(plus.out);
      } catch {
        changed = { steps: [], summary: `unreadable preview output: ${plus.out.slice(-300)}` };
      }
      writeStack(n);
      rows.push(
        `| ${n} | ${apply.seconds.toFixed(1)} s (${applyWhat}: ${summary(apply.out)}) | ${preview.status === 0 ? preview.seconds.toFixed(1) + " s" : "FAILED"} (${summary(preview.out)}) | ${noop.status === 0 ? noop.seconds.toFixed(1) + " s" : "FAILED"} (${summary(noop.out)}) | ${plus.status === 0 ? plus.seconds.toFixed(1) + " s" : "FAILED"}: ${changed.summary}; **${changed.steps.length}** changed: ${changed.steps.map((c) => "`" + c + "`").join(", ")} |`,
      );
      figures[`nodes${n}`] = { apply: apply.seconds, preview: preview.seconds, noopUp: noop.seconds, previewPlusOne: plus.seconds, changed };
      log(`engine: ${rows[rows.length - 1]}`);
    }
    lines.push(
      "Real engine (locally built pulumi CLI 3.248.0 + Kubernetes provider, scripts/toolchain) against a private local control plane (scripts/cluster, kwok nodes), file backend; stack = `Pulumi.prod.yaml` (2 LB hosts) with N nodes.",
      "**Stand-in:** the command provider cannot be built here, so the program is the real `index.ts` with `command.remote.Command` swapped (before index.ts loads) for a ConfigMap holding the same inputs (push/restore scripts, stdin = haproxy.cfg). The engine diffs the real graph; no SSH push is timed here (section 2 times the push script). The provider replaces a ConfigMap whose data changes where the real Command would update in place: count the rows, not the op.",
      "",
      "| nodes | `up` to reach N | `preview`, no change | no-op `up` | `preview --json` with N+1 nodes: resources that change |",
      "| ---: | --- | --- | --- | --- |",
      ...rows,
    );
    await pulumi("destroy", "--yes", "--skip-preview", "--stack", stackName);
    return { ran: true, lines, figures };
  } catch (e) {
    return { ran: false, lines: [...lines, `FAILED: ${(e as Error).message.slice(0, 1500)}`], figures };
  } finally {
    spawnSync("bash", ["scripts/cluster/down.sh"], { cwd: REPO, env: clusterEnv, encoding: "utf8", timeout: 120_000 });
    rmSync(work, { recursive: true, force: true });
  }
}
