// The golden helper itself: UPDATE_GOLDEN=1 may rewrite a golden, but never lets that run pass.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { expectGolden } from "../fixtures/golden";

const ROOT = join(__dirname, "../..");
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "golden-test-"));
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

describe("expectGolden", () => {
  it("without UPDATE_GOLDEN: equal passes, different fails, missing fails; nothing is written", () => {
    vi.stubEnv("UPDATE_GOLDEN", "");
    const path = join(dir, "a.cfg");
    writeFileSync(path, "old\n");
    expect(() => expectGolden(path, "old\n")).not.toThrow();
    expect(() => expectGolden(path, "new\n")).toThrow(`differs from ${relative(ROOT, path)} (UPDATE_GOLDEN=1 rewrites it)`);
    expect(readFileSync(path, "utf8")).toBe("old\n");
    expect(() => expectGolden(join(dir, "none.cfg"), "x")).toThrow(`golden file ${relative(ROOT, join(dir, "none.cfg"))} is missing; run the tests once with UPDATE_GOLDEN=1 and review it`);
  });

  it("with UPDATE_GOLDEN=1: a different or missing golden is rewritten and the test FAILS naming it", () => {
    vi.stubEnv("UPDATE_GOLDEN", "1");
    const path = join(dir, "a.cfg");
    writeFileSync(path, "old\n");
    expect(() => expectGolden(path, "new\n")).toThrow(`UPDATE_GOLDEN=1 rewrote ${relative(ROOT, path)}; review it (git diff) and run the tests again without UPDATE_GOLDEN`);
    expect(readFileSync(path, "utf8")).toBe("new\n");
    const missing = join(dir, "sub", "b.cfg");
    expect(() => expectGolden(missing, "b\n")).toThrow(`UPDATE_GOLDEN=1 rewrote ${relative(ROOT, missing)};`);
    expect(readFileSync(missing, "utf8")).toBe("b\n");
    // Already equal: nothing to rewrite, nothing to review.
    expect(() => expectGolden(path, "new\n")).not.toThrow();
  });
});
