// actionlint (built from its Go module by setup-actionlint.sh, cached outside the repo) on the real
// workflows, with shellcheck on the `run:` scripts; and on a deliberately broken copy, which must fail
// with exactly the mistakes planted in it.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
let actionlint: string;
let tmp: string;

function lint(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(actionlint, ["-no-color", "-oneline"], { cwd, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

beforeAll(() => {
  actionlint = execFileSync("bash", [join(__dirname, "setup-actionlint.sh")], { encoding: "utf8", timeout: 600_000 }).trim().split("\n").pop()!;
  tmp = mkdtempSync(join(tmpdir(), "actionlint-"));
}, 600_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("actionlint", () => {
  it("is the pinned version, with shellcheck available for run: scripts", () => {
    expect(execFileSync(actionlint, ["-version"], { encoding: "utf8" }).split("\n")[0]).toBe("v1.7.12");
    expect(spawnSync("shellcheck", ["--version"]).status).toBe(0);
  });

  it("passes on the repository's workflows", () => {
    expect(lint(ROOT)).toEqual({ status: 0, out: "" });
  });

  it("fails on a broken copy, naming each planted mistake", () => {
    const copy = join(tmp, "broken");
    cpSync(join(ROOT, ".github"), join(copy, ".github"), { recursive: true });
    execFileSync("git", ["init", "-q", copy]); // actionlint finds the project through .git
    const edit = (file: string, from: string, to: string) => {
      const path = join(copy, ".github/workflows", file);
      const text = readFileSync(path, "utf8");
      expect(text).toContain(from);
      writeFileSync(path, text.replace(from, to));
    };
    edit("deploy.yml", "needs: up-dev", "needs: up-dve");
    edit("preview.yml", "pull-requests: write", "pull-request: write");
    edit("preview.yml", "stack-name: ${{ matrix.stack }}", "stack-name: ${{ matrix.stak }}");
    edit("checks.yml", "- run: npm test\n", '- run: echo "${{ github.event.pull_request.title }}" && npm test\n');
    edit("deploy.yml", 'echo "KUBECONFIG=$RUNNER_TEMP/kubeconfig" >> "$GITHUB_ENV"', 'echo "KUBECONFIG=$RUNNER_TEMP/kubeconfig" >> $GITHUB_ENV');

    const r = lint(copy);
    expect(r.status).toBe(1);
    const rules = r.out
      .trim()
      .split("\n")
      .map((l) => `${l.split(":")[0]} ${l.match(/\[([a-z-]+)\]$/)?.[1]}`);
    expect(rules).toEqual([
      ".github/workflows/checks.yml expression",
      ".github/workflows/deploy.yml shellcheck",
      ".github/workflows/deploy.yml job-needs",
      ".github/workflows/preview.yml permissions",
      ".github/workflows/preview.yml expression",
    ]);
    expect(r.out).toContain('"github.event.pull_request.title" is potentially untrusted');
    expect(r.out).toContain('job "up-prod" needs job "up-dve" which does not exist in this workflow');
    expect(r.out).toContain("SC2086");
  });
});
