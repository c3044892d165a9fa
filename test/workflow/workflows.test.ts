// The delivery rules the workflows must keep, read from the YAML: previews on pull requests with the
// diff as a PR comment, deploys from main only behind environments, least-privilege permissions, and
// secrets only ever passed through `env:`. (actionlint.real.test.ts checks the syntax and expressions.)
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";

const DIR = resolve(__dirname, "../../.github/workflows");
const wf = (file: string) => YAML.parse(readFileSync(join(DIR, file), "utf8"));
const text = (file: string) => readFileSync(join(DIR, file), "utf8");
const FILES = ["checks.yml", "deploy.yml", "engine.yml", "follow-cluster.yml", "preview.yml"];

// Inputs of pulumi/actions v7.0.0 (its action.yml); a misspelt input is silently ignored by GitHub.
const PULUMI_ACTION_INPUTS = [
  "command", "stack-name", "pulumi-version", "pulumi-version-file", "work-dir", "comment-on-pr", "comment-on-pr-number",
  "comment-on-summary", "github-token", "cloud-url", "secrets-provider", "parallel", "message", "config-map",
  "expect-no-changes", "diff", "replace", "exclude", "exclude-dependents", "target", "target-dependents", "refresh",
  "upsert", "remove", "edit-pr-comment", "color", "exclude-protected", "plan", "suppress-outputs", "suppress-progress",
  "always-include-summary", "continue-on-error", "log-verbosity", "log-flow", "debug",
];

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
const pulumiSteps = (job: { steps: Step[] }) => job.steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));

describe("workflow files", () => {
  it("are exactly checks, deploy, engine, follow-cluster and preview", () => {
    expect(readdirSync(DIR).sort()).toEqual(FILES);
  });

  it("grant only contents: read at the top; jobs widen only what they need", () => {
    for (const f of FILES) expect(wf(f).permissions).toEqual({ contents: "read" });
    expect(wf("preview.yml").jobs.preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(wf("deploy.yml").jobs["up-dev"].permissions).toEqual({ contents: "read" });
    expect(wf("deploy.yml").jobs["up-prod"].permissions).toEqual({ contents: "read" });
    for (const job of ["check", "up-dev", "up-prod"]) expect(wf("follow-cluster.yml").jobs[job].permissions).toEqual({ contents: "read" });
  });

  it("pin every action to a full commit SHA with the tag as a comment", () => {
    const uses = FILES.flatMap((f) => [...text(f).matchAll(/uses: (\S+)(.*)$/gm)].map((m) => ({ f, ref: m[1], comment: m[2] })));
    const actions = uses.filter((u) => !u.ref.startsWith("./"));
    // The count ties the loop below to the files: a pattern that stopped matching fails here.
    expect(actions.map((u) => `${u.f} ${u.ref.split("@")[0]}`)).toEqual([
      "checks.yml actions/checkout", "checks.yml actions/setup-node", "checks.yml actions/checkout", "checks.yml actions/setup-node",
      "deploy.yml actions/checkout", "deploy.yml actions/setup-node", "deploy.yml pulumi/actions",
      "deploy.yml actions/checkout", "deploy.yml actions/setup-node", "deploy.yml pulumi/actions",
      "engine.yml actions/checkout", "engine.yml actions/setup-node", "engine.yml actions/setup-go", "engine.yml actions/cache",
      ...["check", "up-dev", "up-prod"].flatMap(() => ["actions/checkout", "actions/setup-node", "pulumi/actions"].map((a) => `follow-cluster.yml ${a}`)),
      "preview.yml actions/checkout", "preview.yml actions/setup-node", "preview.yml pulumi/actions",
    ]);
    for (const { ref, comment } of actions) {
      expect(ref).toMatch(/^[\w-]+\/[\w-]+@[0-9a-f]{40}$/);
      expect(comment).toMatch(/^ # v\d+\.\d+\.\d+$/);
    }
  });

  it("never put a secret inside a run: script (only env: and with:)", () => {
    for (const f of FILES) {
      for (const job of Object.values(wf(f).jobs) as { steps?: Step[] }[])
        for (const step of job.steps ?? []) expect(step.run ?? "").not.toMatch(/secrets\.|set -x|KUBECONFIG_DATA"?\s*$/);
    }
    expect(text("checks.yml")).not.toContain("secrets.");
  });
});

describe("preview.yml", () => {
  const p = wf("preview.yml");

  it("runs on pull requests to main, after the checks, for dev and prod", () => {
    expect(p.on).toEqual({ pull_request: { branches: ["main"] } });
    expect(p.jobs.checks).toEqual({ uses: "./.github/workflows/checks.yml" });
    expect(p.jobs.preview.needs).toBe("checks");
    expect(p.jobs.preview.strategy).toEqual({ "fail-fast": false, matrix: { stack: ["dev", "prod"] } });
    expect(p.jobs.preview.environment).toBeUndefined();
  });

  it("previews with the diff posted (and edited) as a PR comment", () => {
    const steps = pulumiSteps(p.jobs.preview);
    expect(steps).toHaveLength(1);
    expect(steps[0].with).toEqual({
      command: "preview",
      "stack-name": "${{ matrix.stack }}",
      "pulumi-version": "3.259.0",
      "cloud-url": "${{ secrets.PULUMI_BACKEND_URL }}",
      diff: true,
      "comment-on-pr": true,
      "edit-pr-comment": true,
      "comment-on-summary": true,
      "github-token": "${{ secrets.GITHUB_TOKEN }}",
    });
    for (const key of Object.keys(steps[0].with!)) expect(PULUMI_ACTION_INPUTS).toContain(key);
  });

  it("installs with npm ci before previewing, and picks each stack's own secrets", () => {
    const runs = p.jobs.preview.steps.map((s: Step) => s.run ?? s.uses?.split("@")[0]);
    expect(runs.indexOf("npm ci --no-audit --no-fund")).toBeLessThan(runs.indexOf("pulumi/actions"));
    expect(p.jobs.preview.env.PULUMI_CONFIG_PASSPHRASE).toBe(
      "${{ matrix.stack == 'prod' && secrets.PULUMI_CONFIG_PASSPHRASE_PROD || secrets.PULUMI_CONFIG_PASSPHRASE_DEV }}",
    );
  });
});

describe("deploy.yml", () => {
  const d = wf("deploy.yml");

  it("runs only on pushes to main, one at a time, never cancelled", () => {
    expect(d.on).toEqual({ push: { branches: ["main"] } });
    expect(d.concurrency).toEqual({ group: "deploy", "cancel-in-progress": false });
  });

  it("ups dev, then prod, each in its GitHub environment after the checks", () => {
    expect(Object.keys(d.jobs)).toEqual(["checks", "up-dev", "up-prod"]);
    expect([d.jobs["up-dev"].needs, d.jobs["up-dev"].environment]).toEqual(["checks", "dev"]);
    expect([d.jobs["up-prod"].needs, d.jobs["up-prod"].environment]).toEqual(["up-dev", "prod"]);
    for (const [job, stack] of [["up-dev", "dev"], ["up-prod", "prod"]]) {
      const steps = pulumiSteps(d.jobs[job]);
      expect(steps.map((s) => [s.with!.command, s.with!["stack-name"]])).toEqual([["up", stack]]);
      for (const key of Object.keys(steps[0].with!)) expect(PULUMI_ACTION_INPUTS).toContain(key);
      expect(d.jobs[job].env.PULUMI_CONFIG_PASSPHRASE).toBe(`\${{ secrets.PULUMI_CONFIG_PASSPHRASE_${stack.toUpperCase()} }}`);
    }
  });
});

describe("checks.yml", () => {
  const c = wf("checks.yml");
  const steps = (job: { steps: Step[] }) => job.steps.map((s: Step) => s.run ?? s.uses?.split("@")[0]);

  it("is a reusable workflow: unit tier and the render of every stack, then the real and netns tiers as root", () => {
    expect(c.on).toEqual({ workflow_call: null });
    expect(Object.keys(c.jobs)).toEqual(["unit", "root-tiers"]);
    expect(steps(c.jobs.unit)).toEqual([
      "actions/checkout",
      "actions/setup-node",
      "npm ci --no-audit --no-fund",
      "npm test",
      'for stack in dev prod; do\n  npm run render -- "$stack"\ndone\n',
    ]);
    expect(c.jobs.unit.steps[3].env).toEqual({ IHP_TIERS: "unit" });
    expect(c.jobs["root-tiers"].strategy).toEqual({ "fail-fast": false, matrix: { tier: ["real", "netns"] } });
    expect(steps(c.jobs["root-tiers"])).toEqual(["actions/checkout", "actions/setup-node", "npm ci --no-audit --no-fund", 'sudo -E env "PATH=$PATH" npm test']);
    expect(c.jobs["root-tiers"].steps[3].env).toEqual({ IHP_TIERS: "${{ matrix.tier }}" });
  });

  it("gates every preview and deploy: they need the job that calls it", () => {
    for (const [f, first] of [["preview.yml", "preview"], ["deploy.yml", "up-dev"]]) {
      expect(wf(f).jobs.checks).toEqual({ uses: "./.github/workflows/checks.yml" });
      expect(wf(f).jobs[first].needs).toBe("checks");
    }
  });
});

describe("engine.yml", () => {
  const e = wf("engine.yml");

  it("runs nightly, by hand, and on pull requests labelled engine-tests", () => {
    expect(Object.keys(e.on)).toEqual(["schedule", "workflow_dispatch", "pull_request"]);
    expect(e.on.schedule).toEqual([{ cron: "17 3 * * *" }]);
    expect(e.jobs.engine.if).toBe("github.event_name != 'pull_request' || contains(github.event.pull_request.labels.*.name, 'engine-tests')");
  });

  it("caches the toolchain keyed on versions.env and the upstream checksums, then runs the engine tier as root", () => {
    const job = e.jobs.engine;
    const names = job.steps.map((s: Step & { name?: string }) => s.name ?? s.run ?? s.uses?.split("@")[0]);
    expect(names).toEqual([
      "actions/checkout", "actions/setup-node", "actions/setup-go", "Toolchain cache key (pins and upstream checksums)", "actions/cache",
      "npm ci --no-audit --no-fund", "Run the engine tier as root (builds what the cache lacks)",
    ]);
    expect(job.steps[3].run).toContain("cat scripts/toolchain/versions.env ../shared/upstream/SHA256SUMS | sha256sum");
    expect(job.steps[4].with).toEqual({ path: "${{ env.IHP_TOOLCHAIN_DIR }}", key: "${{ steps.toolchain.outputs.key }}" });
    expect(job.steps[6]).toMatchObject({ run: 'sudo -E env "PATH=$PATH" npm test', env: { IHP_TIERS: "engine" } });
  });
});

describe("follow-cluster.yml", () => {
  const f = wf("follow-cluster.yml");
  type Job = { steps: (Step & { name?: string })[]; env: Record<string, string>; if?: string; needs?: string; environment?: string; strategy?: unknown };
  const job = (name: string): Job => f.jobs[name];
  const names = (j: Job) => j.steps.map((s) => s.name ?? s.run ?? s.uses?.split("@")[0]);

  it("runs hourly and by hand, never on code events, one run at a time and never cancelled halfway", () => {
    expect(f.on).toEqual({ schedule: [{ cron: "41 * * * *" }], workflow_dispatch: null });
    expect(f.concurrency).toEqual({ group: "follow-cluster", "cancel-in-progress": false });
    expect(Object.keys(f.jobs)).toEqual(["check", "up-dev", "up-prod"]);
  });

  it("checks dev and prod with preview --expect-no-changes (scripts/follow-cluster.ts), outside any environment, with the read-only prod kubeconfig", () => {
    const c = job("check");
    expect(c.environment).toBeUndefined();
    expect(c.strategy).toEqual({ "fail-fast": false, matrix: { stack: ["dev", "prod"] } });
    expect(names(c)).toEqual([
      "actions/checkout", "actions/setup-node", "npm ci --no-audit --no-fund", "Write the kubeconfig to a private file", "pulumi/actions",
      "Preview, expecting no changes", "Remove the kubeconfig",
    ]);
    // The action only installs the pinned CLI; the script runs the previews.
    expect(c.steps[4].with).toEqual({ "pulumi-version": "3.259.0" });
    expect(c.steps[5]).toMatchObject({ run: 'npx tsx scripts/follow-cluster.ts --stack "$STACK" --summary "$GITHUB_STEP_SUMMARY"', env: { STACK: "${{ matrix.stack }}" } });
    expect(c.steps[3].env).toEqual({ KUBECONFIG_DATA: "${{ matrix.stack == 'prod' && secrets.KUBECONFIG_PROD_PREVIEW || secrets.KUBECONFIG_DEV }}" });
    expect((c.steps[6] as { if?: string }).if).toBe("always()");
    expect(c.env).toEqual({
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_BACKEND_URL: "${{ secrets.PULUMI_BACKEND_URL }}",
      PULUMI_CONFIG_PASSPHRASE: "${{ matrix.stack == 'prod' && secrets.PULUMI_CONFIG_PASSPHRASE_PROD || secrets.PULUMI_CONFIG_PASSPHRASE_DEV }}",
    });
  });

  it("ups a stack only when the check failed and the stack opted in, in its GitHub environment (same protection as deploy.yml)", () => {
    for (const [name, stack] of [["up-dev", "dev"], ["up-prod", "prod"]]) {
      const u = job(name);
      const STACK = stack.toUpperCase();
      expect([u.needs, u.environment, u.if]).toEqual(["check", stack, `always() && needs.check.result == 'failure' && vars.FOLLOW_CLUSTER_AUTO_UP_${STACK} == 'true'`]);
      expect(u.environment).toBe(wf("deploy.yml").jobs[name].environment);
      expect(names(u)).toEqual([
        "actions/checkout", "actions/setup-node", "npm ci --no-audit --no-fund", "Write the kubeconfig to a private file", "pulumi/actions",
        "Preview again; up only when every change is a HAProxy config push", "Remove the kubeconfig",
      ]);
      expect(u.steps[5].run).toBe(`npx tsx scripts/follow-cluster.ts --stack ${stack} --apply --summary "$GITHUB_STEP_SUMMARY"`);
      // The deploy's own kubeconfig and passphrase (the read-only prod kubeconfig cannot apply).
      expect(u.steps[3].env).toEqual({ KUBECONFIG_DATA: `\${{ secrets.KUBECONFIG_${STACK} }}` });
      expect(u.env.PULUMI_CONFIG_PASSPHRASE).toBe(`\${{ secrets.PULUMI_CONFIG_PASSPHRASE_${STACK} }}`);
      expect(u.steps[3].env).toEqual(wf("deploy.yml").jobs[name].steps[3].env);
    }
  });
});
