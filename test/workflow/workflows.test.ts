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
  it("are exactly checks, deploy and preview", () => {
    expect(readdirSync(DIR).sort()).toEqual(["checks.yml", "deploy.yml", "preview.yml"]);
  });

  it("grant only contents: read at the top; jobs widen only what they need", () => {
    for (const f of ["checks.yml", "deploy.yml", "preview.yml"]) expect(wf(f).permissions).toEqual({ contents: "read" });
    expect(wf("preview.yml").jobs.preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(wf("deploy.yml").jobs["up-dev"].permissions).toEqual({ contents: "read" });
    expect(wf("deploy.yml").jobs["up-prod"].permissions).toEqual({ contents: "read" });
  });

  it("pin every action to a full commit SHA with the tag as a comment", () => {
    for (const f of ["checks.yml", "deploy.yml", "preview.yml"]) {
      const uses = [...text(f).matchAll(/uses: (\S+)(.*)$/gm)].map((m) => [m[1], m[2]]);
      for (const [ref, comment] of uses) {
        if (ref.startsWith("./")) continue;
        expect(ref).toMatch(/^[\w-]+\/[\w-]+@[0-9a-f]{40}$/);
        expect(comment).toMatch(/^ # v\d+\.\d+\.\d+$/);
      }
    }
  });

  it("never put a secret inside a run: script (only env: and with:)", () => {
    for (const f of ["checks.yml", "deploy.yml", "preview.yml"]) {
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
  it("is a reusable workflow: npm ci, unit tests, render of every stack", () => {
    const c = wf("checks.yml");
    expect(c.on).toEqual({ workflow_call: null });
    expect(c.jobs.unit.steps.map((s: Step) => s.run ?? s.uses?.split("@")[0])).toEqual([
      "actions/checkout",
      "actions/setup-node",
      "npm ci --no-audit --no-fund",
      "npm run test:unit",
      'for stack in dev prod; do\n  npm run render -- "$stack"\ndone\n',
    ]);
  });
});
