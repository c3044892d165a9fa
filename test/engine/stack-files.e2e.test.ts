// The committed stack files as the real pulumi CLI (scripts/toolchain) reads them, in a throwaway file
// backend: the prod secrets decrypt with the documented example passphrase (and only with it), and
// the flat config the engine hands the program gives exactly the settings `npm run render` validates.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settingsFromStackConfig } from "../../components/stack-config";
import { readStackConfig, validate } from "../../scripts/render";

const ROOT = resolve(__dirname, "../..");
let work: string;
let env: NodeJS.ProcessEnv;

function pulumi(args: string[], passphrase: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn("pulumi", [...args, "--non-interactive"], { cwd: work, env: { ...env, PULUMI_CONFIG_PASSPHRASE: passphrase }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (status) => done({ status, stdout, stderr }));
  });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "stack-files-"));
  for (const f of ["Pulumi.yaml", "Pulumi.prod.yaml"]) copyFileSync(join(ROOT, f), join(work, f));
  mkdirSync(join(work, "state"));
  const sharedHome = execFileSync("bash", ["-c", "source scripts/toolchain/lib.sh && echo $IHP_PULUMI_HOME"], { cwd: ROOT, encoding: "utf8" }).trim();
  mkdirSync(join(work, "pulumi-home"));
  symlinkSync(join(sharedHome, "plugins"), join(work, "pulumi-home", "plugins"));
  env = {
    ...process.env,
    PATH: execFileSync("bash", ["scripts/toolchain/env.sh", "--path"], { cwd: ROOT, encoding: "utf8" }).trim(),
    PULUMI_HOME: join(work, "pulumi-home"),
    PULUMI_BACKEND_URL: `file://${join(work, "state")}`,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("Pulumi.prod.yaml with the real CLI", () => {
  it("a fresh backend adopts the file's encryption salt and leaves the file untouched", async () => {
    expect((await pulumi(["stack", "select", "--create", "prod"], "example-only-rotate-me")).status).toBe(0);
    expect(readFileSync(join(work, "Pulumi.prod.yaml"), "utf8")).toBe(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
  });

  it("its two secrets decrypt with the example passphrase and not with another", async () => {
    const ok = await pulumi(["config", "--json", "--show-secrets", "--stack", "prod"], "example-only-rotate-me");
    expect(ok.status).toBe(0);
    const config = JSON.parse(ok.stdout) as Record<string, { value: string; secret: boolean }>;
    expect(Object.entries(config).filter(([, v]) => v.secret).map(([k]) => k)).toEqual(["ingress-haproxy:sshPrivateKey", "ingress-haproxy:statsPassword"]);
    expect(config["ingress-haproxy:sshPrivateKey"].value).toBe("REPLACE-ME: cat ~/.ssh/lb_prod_key | pulumi config set --secret sshPrivateKey --stack prod");
    expect(config["ingress-haproxy:statsPassword"].value).toMatch(/^[A-Za-z0-9+/]{24}$/);
    const wrong = await pulumi(["config", "get", "statsPassword", "--stack", "prod"], "not-the-passphrase");
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain("incorrect passphrase");
  });

  it("the engine's flat config gives the same settings as the render's reading of the file", async () => {
    const r = await pulumi(["config", "--json", "--stack", "prod"], "example-only-rotate-me");
    const config = JSON.parse(r.stdout) as Record<string, { value?: string; secret: boolean }>;
    const flat = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value ?? "[secret]"]));
    const engine = settingsFromStackConfig(flat, (key) => config[key].secret);
    const rendered = validate(readStackConfig(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"), "Pulumi.prod.yaml"));
    expect(rendered.missingSecrets).toEqual([]);
    expect(engine).toEqual(rendered.settings);
  });
});
