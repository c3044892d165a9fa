// `pulumi preview/up` compile the program without a type check (tsconfig.pulumi.json, named by
// Pulumi.yaml: ts-node's check took 20-30 s per run here). The type check is this test: tsc over every
// TypeScript file of the repository, with isolatedModules so that nothing relies on a type-aware
// compile. A type error anywhere fails the unit tier, and so `npm test` and CI.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";

const ROOT = join(__dirname, "../..");
const tsc = (...args: string[]) =>
  new Promise<{ code: number | null; out: string }>((done, fail) => {
    // Asynchronous: a blocking spawn would starve vitest's worker RPC on a loaded machine.
    const child = spawn(join(ROOT, "node_modules/.bin/tsc"), args, { cwd: ROOT });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code, out }));
  });

/** Every .ts file of the repository outside node_modules and dot folders. */
function repoTypeScript(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name.startsWith(".") || e.name === "node_modules" || e.name === "bin") return [];
    const path = join(dir, e.name);
    return e.isDirectory() ? repoTypeScript(path) : e.name.endsWith(".ts") ? [relative(ROOT, path)] : [];
  });
}

describe("type check", () => {
  it("Pulumi runs the program with tsconfig.pulumi.json: tsconfig.json without the check, nothing else changed", () => {
    expect(YAML.parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")).runtime.options).toEqual({ typescript: true, tsconfig: "tsconfig.pulumi.json" });
    const { "//": why, ...pulumiConfig } = JSON.parse(readFileSync(join(ROOT, "tsconfig.pulumi.json"), "utf8"));
    expect(why).toMatch(/type-checked by `npm run build`/);
    expect(pulumiConfig).toEqual({ extends: "./tsconfig.json", compilerOptions: { noCheck: true } });
    expect(JSON.parse(readFileSync(join(ROOT, "tsconfig.json"), "utf8")).compilerOptions).toMatchObject({ strict: true, isolatedModules: true });
  });

  it("tsc --noEmit covers every TypeScript file of the repository and finds no error", async () => {
    const listed = await tsc("--noEmit", "-p", "tsconfig.json", "--listFilesOnly");
    expect(listed.code, listed.out).toBe(0);
    const inProgram = new Set(listed.out.split("\n").filter((f) => f.startsWith(ROOT) && !f.includes("/node_modules/")).map((f) => relative(ROOT, f)));
    const files = repoTypeScript();
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((f) => !inProgram.has(f))).toEqual([]);
    const checked = await tsc("--noEmit", "-p", "tsconfig.json");
    expect(checked.out).toBe("");
    expect(checked.code).toBe(0);
  }, 300_000);
});
