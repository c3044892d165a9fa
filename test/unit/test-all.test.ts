// scripts/test-all.sh and its final line, with vitest and `id` replaced by stubs on PATH: tier names
// are checked, the unit tier runs without root (no lock, no apt), and the summary adds up every tier.
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
let tmp: string;

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8" }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code) : 0, out: stdout + stderr }),
    );
  });
}

/** A vitest report as its JSON reporter writes it (only the fields the summary reads). */
function report(files: { name: string; status: string; message?: string; tests: string[] }[]) {
  const all = files.flatMap((f) => f.tests);
  const n = (s: string) => all.filter((t) => t === s).length;
  return {
    numPassedTests: n("passed"), numFailedTests: n("failed"), numPendingTests: n("skipped"), numTodoTests: n("todo"),
    testResults: files.map((f) => ({ name: f.name, status: f.status, message: f.message ?? "", assertionResults: f.tests.map((status) => ({ status })) })),
  };
}

/** Runs the summary on per-tier [exit code, report or undefined]. */
async function summary(tiers: Record<string, [number, object | undefined]>, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmp, "results-"));
  for (const [tier, [exit, rep]] of Object.entries(tiers)) {
    writeFileSync(join(dir, `${tier}.exit`), `${exit}\n`);
    if (rep) writeFileSync(join(dir, `${tier}.json`), JSON.stringify(rep));
  }
  return run(process.execPath, ["scripts/test-summary.mjs", dir, ...Object.keys(tiers)], { IHP_ALLOW_SKIPPED: "", ...env });
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "test-all-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("test-summary.mjs: one line for all tiers", () => {
  const ok = report([{ name: "a.test.ts", status: "passed", tests: ["passed", "passed"] }]);

  it("adds up every tier; exit 0 when all passed", async () => {
    expect(await summary({ unit: [0, ok], real: [0, ok] })).toEqual({ code: 0, out: "4 passed, 0 failed\n" });
  });

  it("a failed test fails the run", async () => {
    const bad = report([{ name: "b.test.ts", status: "failed", tests: ["passed", "failed"] }]);
    expect(await summary({ unit: [0, ok], netns: [1, bad] })).toEqual({ code: 1, out: "3 passed, 1 failed\n" });
  });

  it("a skipped test fails the run unless IHP_ALLOW_SKIPPED=1", async () => {
    const skip = report([{ name: "c.test.ts", status: "passed", tests: ["passed", "skipped"] }]);
    expect(await summary({ unit: [0, skip] })).toEqual({ code: 1, out: "1 skipped without IHP_ALLOW_SKIPPED=1: every test must run\n1 passed, 0 failed, 1 skipped\n" });
    expect(await summary({ unit: [0, skip] }, { IHP_ALLOW_SKIPPED: "1" })).toEqual({ code: 0, out: "1 passed, 0 failed, 1 skipped\n" });
  });

  it("a file that failed outside its tests, an error outside any test, and a missing report each count as one failure", async () => {
    const hook = report([{ name: "d.test.ts", status: "failed", message: "boom\nstack", tests: ["skipped"] }]);
    const out = await summary({ unit: [1, ok], real: [1, hook], engine: [2, undefined] }, { IHP_ALLOW_SKIPPED: "1" });
    expect(out).toEqual({
      code: 1,
      out:
        "unit: exited 1 with no failed test (an error outside the tests, see above)\n" +
        "real: d.test.ts failed outside its tests: boom\n" +
        "engine: exited 2 without a vitest report (see above)\n" +
        "2 passed, 3 failed, 1 skipped\n",
    });
  });
});

describe("test-all.sh", () => {
  // Stubs: `id` says uid 1000; `npx` records its arguments and writes a one-test report.
  let bin: string;
  beforeAll(() => {
    bin = join(tmp, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "id"), "#!/bin/sh\necho 1000\n");
    writeFileSync(
      join(bin, "npx"),
      '#!/bin/sh\necho "npx $*"\nfor a; do case $a in --outputFile.json=*) printf \'%s\' \'' +
        JSON.stringify(report([{ name: "x.test.ts", status: "passed", tests: ["passed"] }])) +
        "' > \"${a#--outputFile.json=}\";; esac; done\n",
    );
    for (const f of ["id", "npx"]) chmodSync(join(bin, f), 0o755);
  });
  const testAll = (tiers: string) => run("bash", ["scripts/test-all.sh"], { PATH: `${bin}:${process.env.PATH}`, IHP_TIERS: tiers, IHP_TIERS_LOCK: join(tmp, "lock") });

  it("runs the unit tier without root, without the lock and without installing packages", async () => {
    const r = await testAll("unit");
    expect(r.code).toBe(0);
    expect(r.out).toContain("=== tier: unit (");
    expect(r.out).toContain("npx vitest run --project unit --reporter=default --reporter=json --outputFile.json=");
    expect(r.out).not.toContain("install-test-deps");
    expect(r.out.trimEnd().split("\n").pop()).toBe("1 passed, 0 failed");
  });

  it("asks for root only when a root tier is chosen, naming it", async () => {
    expect(await testAll("unit netns")).toEqual({ code: 1, out: "test-all: the netns tier(s) need root (network namespaces, sshd, apt); run as root, or IHP_TIERS=unit\n" });
  });

  it("refuses an unknown tier (there is no keepalived tier), listing the valid ones", async () => {
    expect(await testAll("unit keepalived")).toEqual({
      code: 2,
      out: "test-all: unknown tier 'keepalived'; valid tiers: unit real netns engine (keepalived's netns tests are in netns)\n",
    });
  });
});
