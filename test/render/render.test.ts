// `npm run render -- <stack>` as users run it: a real process on the real stack files, into temp folders.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../../components/controller/manifests";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { renderKeepalivedConfig } from "../../components/keepalived/config";
import { readStackConfig, validate } from "../../scripts/render";
import { ROOT, contents, listFiles, render } from "../fixtures/render-cli";

let tmp: string;

const yamlOf = (dir: string, file: string) => YAML.parse(readFileSync(join(dir, file), "utf8"));
const stackSettings = (stack: string) => validate(readStackConfig(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8"), stack)).settings;

const K8S_FILES = [
  "00-namespace-nginx-ingress.yaml",
  "10-configmap-nginx-config.yaml",
  "20-serviceaccount-nginx-ingress.yaml",
  "21-clusterrole-nginx-ingress-nginx-ingress.yaml",
  "22-clusterrolebinding-nginx-ingress-nginx-ingress.yaml",
  "23-role-nginx-ingress.yaml",
  "24-rolebinding-nginx-ingress.yaml",
  "30-ingressclass-nginx.yaml",
  "40-daemonset-nginx-ingress.yaml",
  "50-service-ingress.yaml",
  "60-networkpolicy-nginx-ingress-proxy-sources.yaml",
];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "render-test-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("render dev", () => {
  let out: string;
  let run: Awaited<ReturnType<typeof render>>;
  beforeAll(async () => {
    out = join(tmp, "dev");
    run = await render("dev", "--out", out);
  });

  it("exits 0 and writes exactly the objects, the weave patch, one haproxy.cfg and the checksums", async () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(listFiles(out)).toEqual([".ingress-haproxy-render", ...K8S_FILES, "70-daemonsetpatch-weave-net.yaml", "SHA256SUMS", "lb/lb-1/haproxy.cfg"]);
  });

  it("every manifest file holds the object its name says, with the header comment", async () => {
    for (const f of K8S_FILES) {
      const text = readFileSync(join(out, f), "utf8");
      expect(text.startsWith("# ")).toBe(true);
      const m = YAML.parse(text);
      expect(f).toBe(`${f.slice(0, 2)}-${m.kind.toLowerCase()}-${m.metadata.name}.yaml`);
    }
  });

  it("key contents: ConfigMap trusts only the LB, Service is Local on the seed's NodePorts, weave patch owns one env var", async () => {
    expect(yamlOf(out, "10-configmap-nginx-config.yaml").data).toEqual({
      "location-snippets": "proxy_set_header X-Forwarded-For $remote_addr;\ngrpc_set_header X-Forwarded-For $remote_addr;",
      "proxy-protocol": "True",
      "real-ip-header": "proxy_protocol",
      "real-ip-recursive": "False",
      "set-real-ip-from": "198.51.100.10/32",
    });
    const svc = yamlOf(out, "50-service-ingress.yaml");
    expect(svc.metadata.annotations).toBeUndefined();
    expect(svc.spec).toEqual({
      type: "NodePort",
      externalTrafficPolicy: "Local",
      selector: { "app.kubernetes.io/name": "nginx-ingress", "app.kubernetes.io/component": "controller" },
      ports: [
        { name: "http", port: 80, targetPort: "http", nodePort: 30111, protocol: "TCP" },
        { name: "https", port: 443, targetPort: "https", nodePort: 30112, protocol: "TCP" },
      ],
    });
    expect(yamlOf(out, "70-daemonsetpatch-weave-net.yaml")).toEqual({
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "weave-net", namespace: "kube-system", annotations: { "pulumi.com/patchForce": "true" } },
      spec: { template: { spec: { containers: [{ name: "weave", env: [{ name: "NO_MASQ_LOCAL", value: "1" }] }] } } },
    });
    expect(yamlOf(out, "40-daemonset-nginx-ingress.yaml").spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  });

  it("haproxy.cfg is byte-for-byte what the program pushes, and the summary shows its sha256", async () => {
    const s = stackSettings("dev");
    const cfg = readFileSync(join(out, "lb/lb-1/haproxy.cfg"), "utf8");
    expect(cfg).toBe(renderHaproxyConfig(s, s.loadBalancers[0]));
    expect(cfg).toContain("    server node-3 192.0.2.13:30112 send-proxy check port 30111 check-send-proxy\n");
    expect(run.stdout).toContain(`\n  lb-1 198.51.100.10 lb/lb-1/haproxy.cfg sha256 ${sha256(cfg)}\n`);
  });

  it("summary: counts, weave patch, backends, and no missing secret (dev carries an encrypted stand-in key)", async () => {
    const lines = run.stdout.split("\n");
    expect(lines[0]).toBe(`Rendered stack dev (Pulumi.dev.yaml) into ${out}: 13 files + SHA256SUMS`);
    expect(lines[1]).toMatch(/^Kubernetes objects \(11\): Namespace nginx-ingress, ConfigMap nginx-ingress\/nginx-config, /);
    expect(lines.slice(2, 5)).toEqual([
      "Weave patch: DaemonSet kube-system/weave-net gets NO_MASQ_LOCAL=1",
      "Backends (3 nodes): http 192.0.2.11:30111 192.0.2.12:30111 192.0.2.13:30111",
      "                    https 192.0.2.11:30112 192.0.2.12:30112 192.0.2.13:30112",
    ]);
    expect(lines.filter((l) => l.startsWith("Missing secret:"))).toEqual([]);
    expect(lines.filter((l) => l.startsWith("Placeholder:"))).toEqual([]);
  });

  it("SHA256SUMS lists every rendered file with its sha256", async () => {
    const files = contents(out);
    const expected = Object.keys(files)
      .filter((f) => f !== "SHA256SUMS" && f !== ".ingress-haproxy-render")
      .sort()
      .map((f) => `${sha256(files[f])}  ${f}\n`)
      .join("");
    expect(files["SHA256SUMS"]).toBe(expected);
  });
});

describe("render prod", () => {
  let out: string;
  let run: Awaited<ReturnType<typeof render>>;
  beforeAll(async () => {
    out = join(tmp, "prod");
    run = await render("prod", "--out", out);
  });

  it("exits 0 with two LB configs and no weave patch (calico)", async () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(listFiles(out)).toEqual([".ingress-haproxy-render", ...K8S_FILES, "SHA256SUMS", "lb/lb-a/haproxy.cfg", "lb/lb-b/haproxy.cfg"]);
  });

  it("community ConfigMap trusts both LBs and ignores forwarded headers; six backends per LB", async () => {
    expect(yamlOf(out, "10-configmap-nginx-config.yaml").data).toEqual({
      "compute-full-forwarded-for": "false",
      "proxy-real-ip-cidr": "198.51.100.21/32,198.51.100.22/32",
      "use-forwarded-headers": "false",
      "use-proxy-protocol": "true",
    });
    expect(yamlOf(out, "30-ingressclass-nginx.yaml").metadata.annotations).toEqual({ "ingressclass.kubernetes.io/is-default-class": "true" });
    const np = yamlOf(out, "60-networkpolicy-nginx-ingress-proxy-sources.yaml");
    expect(np.spec.ingress[0].from).toEqual([{ ipBlock: { cidr: "198.51.100.21/32" } }, { ipBlock: { cidr: "198.51.100.22/32" } }]);
    const cfg = readFileSync(join(out, "lb/lb-b/haproxy.cfg"), "utf8");
    expect(cfg.split("\n").filter((l) => l.startsWith("    server "))).toHaveLength(12);
    expect(cfg).toContain("    balance leastconn\n");
  });

  it("the stats password is a marked placeholder, never a hash of anything", async () => {
    for (const lb of ["lb-a", "lb-b"]) {
      const cfg = readFileSync(join(out, `lb/${lb}/haproxy.cfg`), "utf8");
      expect(cfg).toContain(
        "\nuserlist stats-users\n" +
          "    # statsPassword is a secret: this copy shows a placeholder; `pulumi up` pushes the real line.\n" +
          "    user ops password <SECRET-NOT-RENDERED:statsPassword>\n",
      );
      expect(cfg).not.toContain("$6$");
      expect(cfg).not.toContain("render-stand-in");
    }
    expect(run.stdout.split("\n").filter((l) => l.startsWith("Placeholder:") || l.startsWith("Missing secret:"))).toEqual([
      "Placeholder: lb/lb-a/haproxy.cfg holds <SECRET-NOT-RENDERED:statsPassword> instead of the secret statsPassword; its sha256 differs from the pushed file's (stack output loadBalancers.*.configSha256).",
      "Placeholder: lb/lb-b/haproxy.cfg holds <SECRET-NOT-RENDERED:statsPassword> instead of the secret statsPassword; its sha256 differs from the pushed file's (stack output loadBalancers.*.configSha256).",
    ]);
  });
});

describe("determinism", () => {
  it("two runs into different folders, and a re-run into the same folder, are byte-identical", { timeout: 240_000 }, async () => {
    for (const stack of ["dev", "prod"]) {
      const a = join(tmp, `${stack}-a`);
      const b = join(tmp, `${stack}-b`);
      expect((await render(stack, "--out", a)).status).toBe(0);
      expect((await render(stack, "--out", b)).status).toBe(0);
      const first = contents(a);
      expect(contents(b)).toEqual(first);
      // A stale file from an older render is removed; the rest is rewritten identically.
      writeFileSync(join(a, "99-stale.yaml"), "stale\n");
      expect((await render(stack, "--out", a)).status).toBe(0);
      expect(contents(a)).toEqual(first);
    }
  });
});

describe("stack file variants and bad input", () => {
  // Pulumi.dev.yaml with extra config lines inserted into its `config:` block, and without its
  // encrypted sshPrivateKey (so a test decides how the secret is given).
  const devWith = (extraConfigLines: string) => {
    const dev = readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8").replace(/  ingress-haproxy:sshPrivateKey:\n    secure: \S+\n/, "");
    const at = dev.indexOf("\nencryptionsalt:");
    return dev.slice(0, at + 1) + extraConfigLines + dev.slice(at + 1);
  };
  const stackFile = (name: string, text: string) => {
    const f = join(tmp, name);
    writeFileSync(f, text);
    return f;
  };

  it("an invalid stack file exits 1 with the SettingsError message and writes nothing", async () => {
    const dev = readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8");
    const file = stackFile("Pulumi.bad.yaml", dev.replace("http: 30111", "http: 29999").replace("address: 192.0.2.12", "address: 192.0.2.300"));
    const out = join(tmp, "bad-out");
    const r = await render("bad", "--config-file", file, "--out", out);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "Invalid stack configuration (2 problems); nothing was created or pushed:\n" +
        "  - ingress-haproxy:nodePorts.http: 29999 is below the NodePort range; choose a port between 30000 and 32767\n" +
        '  - ingress-haproxy:nodes[1].address: "192.0.2.300" is not an IPv4 or IPv6 address; write a bare address such as 192.0.2.11 or 2001:db8::11 (no port, no prefix length)\n' +
        "Set values with `pulumi config set --path 'ingress-haproxy:<path>' <value>` (add --secret for secrets) and see README \"Configuration\".\n",
    );
    expect(() => statSync(out)).toThrow(/ENOENT/);
  });

  it("a secret written in plain text exits 1", async () => {
    const file = stackFile("Pulumi.plain.yaml", devWith("  ingress-haproxy:sshPrivateKey: not-encrypted\n"));
    const r = await render("plain", "--config-file", file, "--out", join(tmp, "plain-out"));
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "Invalid stack configuration (1 problem); nothing was created or pushed:\n" +
        "  - ingress-haproxy:sshPrivateKey: must be set as a secret: `pulumi config set --secret sshPrivateKey ...`\n" +
        "Set values with `pulumi config set --path 'ingress-haproxy:<path>' <value>` (add --secret for secrets) and see README \"Configuration\".\n",
    );
  });

  it("a `secure:` value counts as the secret being set", async () => {
    const file = stackFile("Pulumi.sec.yaml", devWith("  ingress-haproxy:sshPrivateKey:\n    secure: v1:AAAA:BBBB\n"));
    const r = await render("sec", "--config-file", file, "--out", join(tmp, "sec-out"));
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain("Missing secret");
  });

  it("adopt: the adopted objects carry patchForce, and the summary names them", async () => {
    const file = stackFile("Pulumi.adopt.yaml", devWith("  ingress-haproxy:adopt: {}\n"));
    const out = join(tmp, "adopt-out");
    const r = await render("adopt", "--config-file", file, "--out", out);
    expect(r.status).toBe(0);
    const annotated = K8S_FILES.filter((f) => yamlOf(out, f).metadata.annotations?.["pulumi.com/patchForce"] === "true");
    expect(annotated).toEqual(["00-namespace-nginx-ingress.yaml", "10-configmap-nginx-config.yaml", "50-service-ingress.yaml"]);
    expect(r.stdout).toContain("\nAdopted in place (pulumi.com/patchForce, kept on destroy): Namespace nginx-ingress, ConfigMap nginx-ingress/nginx-config, Service nginx-ingress/ingress\n");
  });

  it("keepalived: one keepalived.conf per LB with the VRRP secret as a placeholder, hashed in the summary", async () => {
    const dev = readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8");
    const file = stackFile(
      "Pulumi.pair.yaml",
      dev.replace(
        "      hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJE3opU311SC3Zgfn7cd0fd8QamdPh1bmljG04jsE0vB\n",
        "      hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJE3opU311SC3Zgfn7cd0fd8QamdPh1bmljG04jsE0vB\n      priority: 150\n" +
          "    - name: lb-2\n      address: 198.51.100.11\n      hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMcnHEIVX8U/9Qkb0jAOp+oQGJIhrVAkuaRIC9LkzW44\n      priority: 100\n",
      ).replace("\nencryptionsalt:", "\n  ingress-haproxy:keepalived:\n    virtualAddresses: [198.51.100.100]\nencryptionsalt:"),
    );
    const out = join(tmp, "pair-out");
    const r = await render("pair", "--config-file", file, "--out", out);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(listFiles(out).filter((f) => f.startsWith("lb/"))).toEqual(["lb/lb-1/haproxy.cfg", "lb/lb-1/keepalived.conf", "lb/lb-2/haproxy.cfg", "lb/lb-2/keepalived.conf"]);
    const settings = validate(readStackConfig(readFileSync(file, "utf8"), "pair")).settings;
    for (const [i, lb] of settings.loadBalancers.entries()) {
      const conf = readFileSync(join(out, `lb/${lb.name}/keepalived.conf`), "utf8");
      const real = renderKeepalivedConfig(settings, lb, { vrrpPassword: "some-password" });
      const authLine = real.split("\n").findIndex((l) => l.includes("auth_pass "));
      const expected = real.split("\n");
      expected.splice(authLine, 1,
        "        # vrrpPassword is a secret: this copy shows a placeholder; `pulumi up` pushes the real line.",
        "        auth_pass <SECRET-NOT-RENDERED:vrrpPassword>");
      expect(conf).toBe(expected.join("\n"));
      expect(r.stdout).toContain(`\n  ${lb.name} ${lb.address} lb/${lb.name}/keepalived.conf sha256 ${sha256(conf)}\n`);
      expect(conf.split("\n")[1]).toContain(i === 0 ? ": MASTER by priority 150 " : ": BACKUP by priority 100 ");
    }
    expect(r.stdout.split("\n").filter((l) => l.startsWith("Placeholder:") || l.startsWith("Missing secret:"))).toEqual([
      `Placeholder: lb/lb-1/keepalived.conf holds <SECRET-NOT-RENDERED:vrrpPassword> instead of the secret vrrpPassword; its sha256 differs from the pushed file's (stack output keepalived.hosts.*.configSha256).`,
      `Placeholder: lb/lb-2/keepalived.conf holds <SECRET-NOT-RENDERED:vrrpPassword> instead of the secret vrrpPassword; its sha256 differs from the pushed file's (stack output keepalived.hosts.*.configSha256).`,
      `Missing secret: ingress-haproxy:vrrpPassword is not in ${file}; render does not need it, \`pulumi preview\`/\`up\` do: pulumi config set --secret vrrpPassword ... --stack pair`,
    ]);
  });

  it("usage errors exit 2: no stack, unknown stack, a folder render did not make", { timeout: 240_000 }, async () => {
    expect(await render()).toMatchObject({ status: 2, stderr: "render: usage: npm run render -- <stack> [--out DIR] [--config-file FILE] [--nodes-yaml FILE | --kubeconfig FILE]\n" });
    expect(await render("nosuch", "--out", join(tmp, "x"))).toMatchObject({
      status: 2,
      stderr: `render: no stack file ${join(ROOT, "Pulumi.nosuch.yaml")}; create it with \`pulumi stack init nosuch\` or pass --config-file\n`,
    });
    const foreign = join(tmp, "foreign");
    mkdirSync(foreign);
    writeFileSync(join(foreign, "keep.txt"), "mine\n");
    expect(await render("dev", "--out", foreign)).toMatchObject({
      status: 2,
      stderr: `render: refusing to write into ${foreign}: it is not empty and was not made by render (no .ingress-haproxy-render); choose another --out\n`,
    });
    expect(readFileSync(join(foreign, "keep.txt"), "utf8")).toBe("mine\n");
  });
});
