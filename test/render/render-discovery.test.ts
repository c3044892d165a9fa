// `npm run render` on a stack with nodeDiscovery: from a saved `kubectl get nodes -o yaml` (the golden
// test/golden/nodes-kwok.yaml, taken from the local kwok cluster) or from a kubeconfig (the stand-in API
// server, through the real client). The haproxy.cfg is byte-identical to the one of the dev stack that
// lists the same nodes by hand, to what the program pushes under mocks, and to a shuffled list's.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../../components/controller/manifests";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { readStackConfig, validate } from "../../scripts/render";
import { NodeListStandin, startNodeListStandin } from "../fixtures/node-list-apiserver-standin";
import { ROOT, contents, render } from "../fixtures/render-cli";

const GOLDEN_NODES = join(ROOT, "test/golden/nodes-kwok.yaml");
let tmp: string;
let api: NodeListStandin;
let stackFile: string;

/** Pulumi.dev.yaml with its node list replaced by nodeDiscovery (selector type=kwok). */
function discoveryStackFile(): string {
  const dev = readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8");
  const listed = /  ingress-haproxy:nodes:\n(    .*\n)+/;
  if (!listed.test(dev)) throw new Error("Pulumi.dev.yaml: no ingress-haproxy:nodes block");
  return dev.replace(listed, "  ingress-haproxy:nodeDiscovery:\n    selector: type=kwok\n");
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "render-discovery-"));
  stackFile = join(tmp, "Pulumi.found.yaml");
  writeFileSync(stackFile, discoveryStackFile());
  api = await startNodeListStandin();
  api.nodes = YAML.parse(readFileSync(GOLDEN_NODES, "utf8")).items;
});
afterAll(async () => {
  await api.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("render with nodeDiscovery", () => {
  it("--nodes-yaml: exit 0, the same haproxy.cfg as the dev stack's listed nodes, and the summary names the source", async () => {
    const r = await render("found", "--config-file", stackFile, "--nodes-yaml", GOLDEN_NODES, "--out", join(tmp, "yaml"));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const dev = validate(readStackConfig(readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8"), "dev")).settings;
    const cfg = readFileSync(join(tmp, "yaml/lb/lb-1/haproxy.cfg"), "utf8");
    expect(cfg).toBe(renderHaproxyConfig(dev, dev.loadBalancers[0]));
    const lines = r.stdout.split("\n");
    expect(lines.filter((l) => l.startsWith("Discovered from") || l.startsWith("  left out") || l.startsWith("Backends"))).toEqual([
      "Backends (3 nodes): http 192.0.2.11:30111 192.0.2.12:30111 192.0.2.13:30111",
      `Discovered from ${GOLDEN_NODES}: selector "type=kwok", InternalIP: node-1 192.0.2.11, node-2 192.0.2.12, node-3 192.0.2.13`,
    ]);
    expect(lines).toContain(`  lb-1 198.51.100.10 lb/lb-1/haproxy.cfg sha256 ${sha256(cfg)}`);
  });

  it("the saved list's order does not matter, and --kubeconfig gives the same files as --nodes-yaml", { timeout: 240_000 }, async () => {
    const doc = YAML.parse(readFileSync(GOLDEN_NODES, "utf8"));
    const reversed = join(tmp, "reversed.yaml");
    writeFileSync(reversed, YAML.stringify({ ...doc, items: [...doc.items].reverse() }));
    expect((await render("found", "--config-file", stackFile, "--nodes-yaml", reversed, "--out", join(tmp, "reversed"))).status).toBe(0);
    api.nodes = [doc.items[1], doc.items[2], doc.items[0]];
    const live = await render("found", "--config-file", stackFile, "--kubeconfig", api.kubeconfig, "--out", join(tmp, "live"));
    expect(live.status).toBe(0);
    expect(live.stdout).toContain(`Discovered from the cluster of ${api.kubeconfig}: selector "type=kwok"`);
    expect(contents(join(tmp, "reversed"))).toEqual(contents(join(tmp, "yaml")));
    expect(contents(join(tmp, "live"))).toEqual(contents(join(tmp, "yaml")));
  });

  it("usage errors exit 2: no source of Nodes, two sources, a file that is not a Node list", { timeout: 240_000 }, async () => {
    expect(await render("found", "--config-file", stackFile, "--out", join(tmp, "none"))).toMatchObject({
      status: 2,
      stderr: "render: stack found discovers its nodes (nodeDiscovery): pass --nodes-yaml FILE (saved with `kubectl get nodes -o yaml`) or --kubeconfig FILE (lists them from that cluster)\n",
    });
    expect(await render("found", "--config-file", stackFile, "--nodes-yaml", GOLDEN_NODES, "--kubeconfig", api.kubeconfig)).toMatchObject({
      status: 2,
      stderr: "render: --nodes-yaml and --kubeconfig are two sources for the same Nodes; give one\n",
    });
    const notNodes = join(tmp, "pods.yaml");
    writeFileSync(notNodes, YAML.stringify({ apiVersion: "v1", kind: "List", items: [{ kind: "Pod", metadata: { name: "x" } }] }));
    expect(await render("found", "--config-file", stackFile, "--nodes-yaml", notNodes, "--out", join(tmp, "pods"))).toMatchObject({
      status: 2,
      stderr: `render: --nodes-yaml ${notNodes} is not a list of Nodes; save one with \`kubectl get nodes -o yaml > ${notNodes}\`\n`,
    });
  });

  it("a selector matching none of the saved Nodes exits 1 with the discovery error, writing nothing", async () => {
    const file = join(tmp, "Pulumi.none.yaml");
    writeFileSync(file, discoveryStackFile().replace("selector: type=kwok", "selector: type=metal"));
    const r = await render("none", "--config-file", file, "--nodes-yaml", GOLDEN_NODES, "--out", join(tmp, "nomatch"));
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "Node discovery (nodeDiscovery) failed (1 problem); nothing was created or pushed:\n" +
        `  - ingress-haproxy:nodeDiscovery.selector: "type=metal" matches none of the cluster's 3 Nodes; check the selector (kubectl get nodes -l "type=metal") and that the Kubernetes provider's context is the intended cluster. HAProxy is never given a config without backends.\n` +
        "Set values with `pulumi config set --path 'ingress-haproxy:<path>' <value>` (add --secret for secrets) and see README \"Configuration\".\n",
    );
    expect(() => readFileSync(join(tmp, "nomatch/lb/lb-1/haproxy.cfg"))).toThrow(/ENOENT/);
  });
});
