// The locally built pulumi CLI (scripts/toolchain) in a throwaway project folder, as every engine test
// runs it: a file backend inside the folder, a private PULUMI_HOME whose plugins are the toolchain's
// (like env.sh's ihp_private_pulumi_home), no update check, no plugin download.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import YAML from "yaml";

export const ROOT = resolve(__dirname, "../..");

export interface PulumiResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  out: string;
  seconds: number;
}

export interface RunOptions {
  /** Written to the CLI's stdin (e.g. a secret for `config set --secret`). */
  input?: string;
  /** Added to (overriding) the project's environment for this call. */
  env?: NodeJS.ProcessEnv;
}

export interface PulumiProject {
  /** The project folder (cwd of every call); the backend is `<dir>/state`. */
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  /**
   * `pulumi ARGS --non-interactive --color never` without blocking the test worker (a blocked worker
   * misses vitest's RPC deadlines).
   */
  run(args: string[], opts?: RunOptions): Promise<PulumiResult>;
  remove(): void;
}

export interface ProjectOptions {
  /** Base environment (default process.env), e.g. a cluster's with KUBECONFIG. */
  env?: NodeJS.ProcessEnv;
  /** PULUMI_CONFIG_PASSPHRASE for every call; unset: give it per call. */
  passphrase?: string;
  /** Files to write into the folder (name -> text), e.g. Pulumi.yaml, index.ts. */
  files?: Record<string, string>;
  /** Symlink the repository's node_modules into the folder (needed to run a program). */
  nodeModules?: boolean;
}

const toolchain = (script: string): string => execFileSync("bash", ["-c", script], { cwd: ROOT, encoding: "utf8" }).trim();

/** A new project folder under the system temp dir, named `<prefix>XXXXXX`. */
export function pulumiProject(prefix: string, opts: ProjectOptions = {}): PulumiProject {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), text);
  if (opts.nodeModules) symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  mkdirSync(join(dir, "state"));
  mkdirSync(join(dir, "pulumi-home"));
  symlinkSync(join(toolchain("source scripts/toolchain/lib.sh && echo $IHP_PULUMI_HOME"), "plugins"), join(dir, "pulumi-home", "plugins"));
  const env: NodeJS.ProcessEnv = {
    ...(opts.env ?? process.env),
    PATH: toolchain("bash scripts/toolchain/env.sh --path"),
    PULUMI_HOME: join(dir, "pulumi-home"),
    PULUMI_BACKEND_URL: `file://${join(dir, "state")}`,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    ...(opts.passphrase === undefined ? {} : { PULUMI_CONFIG_PASSPHRASE: opts.passphrase }),
  };
  const run = (args: string[], o: RunOptions = {}): Promise<PulumiResult> =>
    new Promise((done, fail) => {
      const started = Date.now();
      const child = spawn("pulumi", [...args, "--non-interactive", "--color", "never"], { cwd: dir, env: { ...env, ...o.env }, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      let out = "";
      child.stdout.on("data", (d) => ((stdout += d), (out += d)));
      child.stderr.on("data", (d) => ((stderr += d), (out += d)));
      child.on("error", fail);
      child.on("close", (status) => done({ status, stdout, stderr, out, seconds: (Date.now() - started) / 1000 }));
      child.stdin.on("error", () => undefined);
      child.stdin.end(o.input ?? "");
    });
  return { dir, env, run, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A project whose program is the repository itself (Pulumi.yaml with `main:` the repository folder), with
 * stack `stack` initialised from `config` (plain values, under the project's namespace) and the SSH key
 * set as the secret `sshPrivateKey`.
 */
export async function programStack(prefix: string, stack: string, config: Record<string, unknown>, sshKey: string, opts: Pick<ProjectOptions, "env" | "passphrase">): Promise<PulumiProject> {
  const name = /^name: (\S+)$/m.exec(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8"))![1];
  const project = pulumiProject(prefix, {
    ...opts,
    files: {
      // The repository itself is the program (main: an absolute folder): its index.ts, tsconfig and node_modules.
      "Pulumi.yaml": `${readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")}main: ${ROOT}\n`,
      [`Pulumi.${stack}.yaml`]: YAML.stringify({ config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`${name}:${k}`, v])) }),
    },
  });
  for (const [args, input] of [[["stack", "init", stack]], [["config", "set", "--secret", "sshPrivateKey", "--stack", stack], sshKey]] as const) {
    const r = await project.run([...args], { input });
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.status}:\n${r.out}`);
  }
  return project;
}

/**
 * The end of an engine file: prints the CLI timings; unless IHP_ENGINE_KEEP=1 (left for a post-mortem),
 * runs every clean-up step, even after one failed, and throws the first error.
 */
export function finishEngineFile(title: string, timings: Record<string, number>, left: string, cleanUp: (() => void)[]): void {
  const width = Math.max(0, ...Object.keys(timings).map((k) => k.length));
  console.log(`${title} timings (pulumi CLI wall clock):\n${Object.entries(timings).map(([k, v]) => `  ${k.padEnd(width)} ${v.toFixed(1)} s`).join("\n")}`);
  if (process.env.IHP_ENGINE_KEEP === "1") return console.log(`IHP_ENGINE_KEEP=1: left ${left}`);
  const errors: unknown[] = [];
  for (const step of cleanUp) {
    try {
      step();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length) throw errors[0];
}
