// Every shell script in the repository passes shellcheck (all severities, sourced files followed):
// the tracked *.sh files and every tracked file whose shebang names sh or bash. A planted mistake in
// a copy shows the check would catch one.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
const tmp = mkdtempSync(join(tmpdir(), "shellcheck-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function shellcheck(files: string[], cwd = ROOT): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile("shellcheck", ["-x", "-P", "SCRIPTDIR", "-f", "gcc", ...files], { cwd, encoding: "utf8", maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code) : 0, out: stdout + stderr }),
    );
  });
}

/** Tracked shell scripts: *.sh, and files whose first line is a sh/bash shebang. */
function shellScripts(): string[] {
  const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
  const shebang = (f: string) => /^#!\s*\S*\/(?:env\s+)?(?:ba)?sh\b/.test(readFileSync(join(ROOT, f), "utf8").split("\n", 1)[0]);
  return tracked.filter((f) => f.endsWith(".sh") || (!/\.(ts|mjs|js|json|md|ya?ml|lock)$/.test(f) && shebang(f))).sort();
}

describe("shellcheck", () => {
  const scripts = shellScripts();

  it("finds every kind of script: *.sh in scripts/, bench/ and test/, and shebang'd files such as .ci/run", () => {
    expect(scripts).toEqual(expect.arrayContaining([".ci/run", "bench/netns.sh", "scripts/test-all.sh", "scripts/netns/hosts.sh", "test/keepalived/netns-vrrp.sh"]));
    expect(scripts.filter((f) => !f.endsWith(".sh"))).toEqual([".ci/run"]);
  });

  it("passes on every one of them", async () => {
    expect(await shellcheck(scripts)).toEqual({ code: 0, out: "" });
  });

  it("fails on a copy with an unused variable (the check bites)", async () => {
    const bad = join(tmp, "bad.sh");
    writeFileSync(bad, "#!/usr/bin/env bash\nhost() { local name=$1 port=$2; echo \"$port\"; }\nhost a b\n");
    const r = await shellcheck([bad], tmp);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`${bad}:2:16: warning: name appears unused. Verify use (or export if used externally). [SC2034]\n`);
  });
});
