// The shrink guard's source of truth with the real engine: the program reads its own stack's last
// outputs with the engine's readStackOutputs function (components/discovery/deployed-backends.ts). Checked
// here with the locally built Pulumi 3.259 CLI, a file (diy) backend and the real API server with
// kwok nodes: the first preview of a new stack (no outputs yet) passes, `up` records backendSource,
// reading them is not a change for --expect-no-changes, a change that drops 2 of 3 nodes fails
// preview and up with the guard's message and leaves the outputs as they were, and raising
// maxRemovedShare lets it through.
//
// The program is resolveProgramSettings() (the exact function index.ts runs first) plus its outputs;
// the load balancers' part is engine.e2e.test.ts's, the PR-facing scenarios are i14-preview's.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { type Cluster, ROOT, startCluster } from "./adopt-fixtures";
import { type PulumiProject, type PulumiResult, pulumiProject } from "./pulumi-cli";

const STACK = "discovery";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJE3opU311SC3Zgfn7cd0fd8QamdPh1bmljG04jsE0vB";

const PROGRAM = `import { backends } from "${ROOT}/components/backends";
import { resolveProgramSettings } from "${ROOT}/components/program-settings";

export = async () => {
  const { settings, source } = await resolveProgramSettings();
  return { backends: backends(settings), ...(source ? { backendSource: source } : {}) };
};
`;

let cluster: Cluster;
let project: PulumiProject;
const pulumi = (...args: string[]) => project.run([...args, "--stack", STACK]);
const outputs = async () => JSON.parse((await pulumi("stack", "output", "--json")).stdout);
const ok = (r: PulumiResult): PulumiResult => {
  if (r.status !== 0) throw new Error(`pulumi exited ${r.status}:\n${r.out}`);
  return r;
};
const setLabel = (node: string, on: boolean) => cluster.kubectl("label", "node", node, ...(on ? ["type=kwok", "--overwrite"] : ["type-"]));
const nodesOut = (names: number[]) => names.map((i) => ({ name: `node-${i}`, address: `192.0.2.1${i}` }));

beforeAll(() => {
  cluster = startCluster("/tmp/ihp-cluster-discovery-state", 29300, { fresh: true });
  project = pulumiProject("discovery-state-", {
    // KUBECONFIG points nowhere: the program must use kubernetes:kubeconfig, as the provider would.
    env: { ...cluster.env, KUBECONFIG: "/nonexistent/kubeconfig" },
    passphrase: "discovery-state-e2e",
    nodeModules: true,
    // The repository's own project and compiler settings around the test program.
    files: Object.fromEntries([
      ...["Pulumi.yaml", "tsconfig.json", "tsconfig.pulumi.json"].map((f) => [f, readFileSync(join(ROOT, f), "utf8")]),
      ["package.json", '{ "name": "discovery-state-test", "private": true }\n'],
      ["index.ts", PROGRAM],
    ]),
  });
}, 600_000);
afterAll(() => {
  cluster?.down();
  project?.remove();
});

describe("the shrink guard reads the stack's own last outputs (real engine, diy backend)", () => {
  const guard =
    "ingress-haproxy:nodeDiscovery.maxRemovedShare: this change removes 2 of the 3 deployed backends (node-2 (192.0.2.12), node-3 (192.0.2.13)), more than 0.5 of them;";

  it("a new stack (no outputs yet) previews; up records backendSource", async () => {
    writeFileSync(
      join(project.dir, `Pulumi.${STACK}.yaml`),
      YAML.stringify({
        config: {
          "kubernetes:kubeconfig": cluster.kubeconfig,
          "ingress-haproxy:cni": "other",
          "ingress-haproxy:nodeDiscovery": { selector: "type=kwok" },
          "ingress-haproxy:loadBalancers": [{ name: "lb-1", address: "198.51.100.10", hostKey: HOST_KEY }],
        },
      }),
    );
    ok(await project.run(["stack", "init", STACK]));
    ok(await project.run(["config", "set", "--secret", "sshPrivateKey", "--stack", STACK], { input: "not-used-here\n" }));
    ok(await pulumi("preview"));
    ok(await pulumi("up", "--yes", "--skip-preview"));
    const first = await outputs();
    expect(first.backendSource).toEqual({ selector: "type=kwok", addressType: "InternalIP", nodes: nodesOut([1, 2, 3]), leftOut: [] });
    expect(first.backends.https).toEqual(["192.0.2.11:30112", "192.0.2.12:30112", "192.0.2.13:30112"]);
  });

  it("reading its own outputs is not a change: preview --expect-no-changes passes", async () => {
    ok(await pulumi("preview", "--expect-no-changes"));
  });

  it("2 of 3 nodes gone: preview and up fail with the guard's message, and the outputs stay", async () => {
    setLabel("node-2", false);
    setLabel("node-3", false);
    const preview = await pulumi("preview");
    expect(preview.status).not.toBe(0);
    expect(preview.out).toContain(guard);
    const up = await pulumi("up", "--yes", "--skip-preview");
    expect(up.status).not.toBe(0);
    expect(up.out).toContain(guard);
    expect((await outputs()).backendSource.nodes).toEqual(nodesOut([1, 2, 3]));
  });

  it("1 of 3 gone (a third, under a half) goes through", async () => {
    setLabel("node-2", true);
    ok(await pulumi("up", "--yes", "--skip-preview"));
    expect((await outputs()).backendSource.nodes).toEqual(nodesOut([1, 2]));
  });

  it("after adding back, the same 2-of-3 removal goes through with maxRemovedShare 1", async () => {
    setLabel("node-3", true);
    ok(await pulumi("up", "--yes", "--skip-preview"));
    expect((await outputs()).backendSource.nodes).toEqual(nodesOut([1, 2, 3]));
    setLabel("node-2", false);
    setLabel("node-3", false);
    ok(await pulumi("config", "set", "--path", "ingress-haproxy:nodeDiscovery.maxRemovedShare", "1"));
    ok(await pulumi("up", "--yes", "--skip-preview"));
    expect((await outputs()).backendSource.nodes).toEqual(nodesOut([1]));
  });
});
