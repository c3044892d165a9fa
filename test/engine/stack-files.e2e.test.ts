// The committed stack files as the real pulumi CLI (scripts/toolchain) reads them, in a throwaway file
// backend: the prod secrets decrypt with the documented example passphrase (and only with it), and
// the flat config the engine hands the program gives exactly the settings `npm run render` validates.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settingsFromStackConfig } from "../../components/stack-config";
import { readStackConfig, validate } from "../../scripts/render";
import { type PulumiProject, ROOT, pulumiProject } from "./pulumi-cli";

let project: PulumiProject;

const pulumi = (args: string[], passphrase: string) => project.run(args, { env: { PULUMI_CONFIG_PASSPHRASE: passphrase } });

beforeAll(() => {
  const files = Object.fromEntries(["Pulumi.yaml", "Pulumi.prod.yaml"].map((f) => [f, readFileSync(join(ROOT, f), "utf8")]));
  project = pulumiProject("stack-files-", { files });
});
afterAll(() => project?.remove());

describe("Pulumi.prod.yaml with the real CLI", () => {
  it("a fresh backend adopts the file's encryption salt and leaves the file untouched", async () => {
    expect((await pulumi(["stack", "select", "--create", "prod"], "example-only-rotate-me")).status).toBe(0);
    expect(readFileSync(join(project.dir, "Pulumi.prod.yaml"), "utf8")).toBe(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8"));
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
