// nodeDiscovery through the real engine against the real API server (scripts/cluster: kube-apiserver,
// controller-manager, kwok playing the kubelets) and the netns load balancers lb-1/lb-2: HAProxy follows
// the cluster's labelled Nodes, the preview shows exactly the pushes (and each LB's server lines), the
// guards fail the preview before anything is pushed, and the scheduled check (scripts/follow-cluster.ts)
// reads the real preview. Nodes node-1..3 (192.0.2.11-13) come from up.sh; node-4 (192.0.2.14) is made here.
//
// One stack, one sequence (each step starts from the previous one's state):
//   up with node-1..3 labelled -> no changes -> unlabelled node-4: no changes -> node-4 labelled:
//   exactly one update per LB, follow-cluster fails with the plan, then --apply ups it -> node-2
//   cordoned: removed -> node-3 NotReady: kept within the grace, removed after it, back when Ready ->
//   node-4 deleted: removed -> shrink guard and an empty selector fail `up` with
//   the LB files untouched ->
//   the same cluster state gives the same haproxy.cfg bytes from the pushed file, the stack output,
//   the program's selection of the Nodes list in reverse order and `npm run render` (--kubeconfig, and
//   --nodes-yaml with the list reversed).
//
// Uses the netns hosts (one instance per machine): never run it while the netns tier runs.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { selectNodes } from "../../components/discovery/select-nodes";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { checkSettings, parseSettings, type Settings } from "../../components/settings";
import { outputLineDiffs } from "../../scripts/preview-plan";
import type { HostsContract } from "../netns/contract";
import { hostsDown, hostsUp } from "../netns/harness";
import { type Cluster, startCluster, until } from "./adopt-fixtures";
import { KUBELET_STOPPED, upstreamKwokStages, writeKwokStages } from "./kwok-stages";
import { type PulumiProject, type PulumiResult, ROOT, finishEngineFile, programStack } from "./pulumi-cli";

const STACK = "discovery";
const CLUSTER_DIR = "/tmp/ihp-cluster-discovery";
const PORT_BASE = 27900;
const LABEL = "ingress.example.com/backend";
const SELECTOR = `${LABEL}=true`;

let cluster: Cluster;
let hosts: HostsContract;
let project: PulumiProject;
let raw: Record<string, any>;
const timings: Record<string, number> = {};

async function pulumi(label: string, ...args: string[]): Promise<PulumiResult> {
  const r = await project.run([...args, "--stack", STACK]);
  timings[label] = r.seconds;
  return r;
}
const ok = (r: PulumiResult): PulumiResult => {
  if (r.status !== 0) throw new Error(`pulumi exited ${r.status}:\n${r.out}`);
  return r;
};
const config = (...args: string[]) => project.run(["config", ...args, "--stack", STACK]).then(ok);

/** The live haproxy.cfg bytes of every LB (the netns hosts keep it on this machine's filesystem). */
const liveConfigs = (): Record<string, string> => Object.fromEntries(hosts.loadBalancers.map((lb) => [lb.name, readFileSync(lb.configPath, "utf8")]));
/** What the program pushes for these nodes (no secret in this stack's haproxy.cfg). */
function expectedConfigs(nodes: string[]): Record<string, string> {
  const s = settingsFor(nodes.map((n) => ({ name: n, address: `192.0.2.1${n.slice(-1)}` })));
  return Object.fromEntries(s.loadBalancers.map((lb) => [lb.name, renderHaproxyConfig(s, lb)]));
}
const settingsFor = (nodes: { name: string; address: string }[]): Settings => parseSettings(raw, { sshPrivateKey: true }, nodes);
/** The server names in an LB's haproxy.cfg http backend. */
const servers = (cfg: string) => [...cfg.matchAll(/^ {4}server (\S+) \S+:30111 /gm)].map((m) => m[1]);

/**
 * `op type name` of every step of `pulumi preview --json` that is not `same`. The shrink guard reads the
 * stack's last outputs with an invoke, so it adds no step: every listed step is a change.
 */
function changedSteps(r: PulumiResult): string[] {
  const plan = JSON.parse(r.stdout) as { steps?: { op: string; urn: string }[] };
  return (plan.steps ?? [])
    .map((s) => `${s.op} ${s.urn.split("::")[2].split("$").pop()} ${s.urn.split("::")[3]}`)
    .filter((s) => !s.startsWith("same "))
    .sort();
}
const PUSH_UPDATES = ["update command:remote:Command ingress-lb-lb-1-push", "update command:remote:Command ingress-lb-lb-2-push"];

/** A node's two server lines (http, https) in each LB's haproxy.cfg. */
const serverLines = (name: string): string[] => {
  const address = `192.0.2.1${name.slice(-1)}`;
  return [`    server ${name} ${address}:30111 send-proxy check`, `    server ${name} ${address}:30112 send-proxy check port 30111 check-send-proxy`];
};

/** The preview plans exactly one update per LB, whose diff removes `node`'s server lines, and `up` pushes it. */
async function removalPreviewedThenUp(what: string, node: string, remaining: string[]): Promise<void> {
  const plan = ok(await pulumi(`preview --json (${what})`, "preview", "--json"));
  expect(changedSteps(plan)).toEqual(PUSH_UPDATES);
  const shown = ok(await pulumi(`preview --diff (${what})`, "preview", "--diff"));
  const gone = { added: [], removed: serverLines(node) };
  expect(outputLineDiffs(shown.out, "haproxyConfigs")).toEqual({ "lb-1": gone, "lb-2": gone });
  ok(await pulumi(`up (${what})`, "up", "--yes", "--skip-preview"));
  for (const cfg of Object.values(liveConfigs())) expect(servers(cfg)).toEqual(remaining);
}

/** scripts/follow-cluster.ts in the project folder, with the project's pulumi and cluster (`out`: stdout, the report). */
function followCluster(...args: string[]): Promise<{ code: number | null; out: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "scripts/follow-cluster.ts"), "--stack", STACK, ...args], { cwd: project.dir, env: project.env });
    let out = "";
    let stderr = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code, out, stderr }));
  });
}

/** A kwok-managed Node (kwok makes it Ready), optionally labelled for discovery. */
function createNode(name: string, address: string, labelled: boolean): void {
  const node = {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" }, labels: { "kubernetes.io/hostname": name, type: "kwok", ...(labelled ? { [LABEL]: "true" } : {}) } },
    status: { addresses: [{ type: "InternalIP", address }, { type: "Hostname", address: name }] },
  };
  cluster.kubectl("create", "-f", writeTmp(`${name}.json`, JSON.stringify(node)));
}
function writeTmp(name: string, text: string): string {
  const path = join(project.dir, name);
  writeFileSync(path, text);
  return path;
}
/** Recognisable lines of the secrets this stack uses: the SSH key and the kubeconfig's client key. */
const secretLines = (): string[] =>
  [readFileSync(hosts.ssh.privateKeyPath, "utf8"), readFileSync(join(CLUSTER_DIR, "pki/admin.key"), "utf8")].flatMap((k) => k.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----")));
const readyStatus = (name: string): string => cluster.json("get", "node", name).status.conditions.find((c: any) => c.type === "Ready")?.status ?? "none";

beforeAll(async () => {
  const stages = join(tmpdir(), "ihp-discovery-kwok-stages.yaml");
  writeKwokStages(upstreamKwokStages(), stages, { stoppableKubelets: true });
  cluster = startCluster(CLUSTER_DIR, PORT_BASE, { fresh: true, kwokStages: stages });
  hosts = hostsUp();
  for (const n of ["node-1", "node-2", "node-3"]) cluster.kubectl("label", "node", n, `${LABEL}=true`);
  const { nodes: _listed, ...rest } = hosts.stackConfig as Record<string, unknown>;
  raw = { ...rest, cni: "weave", nodeDiscovery: { selector: SELECTOR } };
  project = await programStack("engine-discovery-", STACK, raw, readFileSync(hosts.ssh.privateKeyPath, "utf8"), { env: cluster.env, passphrase: "engine-discovery-passphrase" });
}, 900_000);

afterAll(() => {
  finishEngineFile("discovery e2e", timings, `the cluster (${CLUSTER_DIR}), the netns hosts and ${project?.dir}`, [() => hostsDown(), () => cluster?.down(), () => project?.remove()]);
}, 300_000);

describe("nodeDiscovery with the real engine, API server and load balancers", () => {
  it("1. up pushes the three labelled nodes; the outputs say where the backends came from", async () => {
    ok(await pulumi("up (node-1..3)", "up", "--yes", "--skip-preview"));
    expect(liveConfigs()).toEqual(expectedConfigs(["node-1", "node-2", "node-3"]));
    const outputs = JSON.parse(ok(await pulumi("stack output", "stack", "output", "--json")).stdout);
    expect(outputs.backendSource).toEqual({
      selector: SELECTOR,
      addressType: "InternalIP",
      nodes: [
        { name: "node-1", address: "192.0.2.11" },
        { name: "node-2", address: "192.0.2.12" },
        { name: "node-3", address: "192.0.2.13" },
      ],
      leftOut: [],
    });
    expect(outputs.haproxyConfigs).toEqual(liveConfigs());
  });

  it("2. nothing changed: preview --expect-no-changes passes, and so does the scheduled check", async () => {
    const r = await pulumi("preview --expect-no-changes", "preview", "--expect-no-changes");
    expect(r.status, r.out).toBe(0);
    const check = await followCluster();
    expect(check.code, check.out + check.stderr).toBe(0);
    expect(check.out).toBe(`### ${STACK}: no changes\n\nThe stack matches the cluster (\`pulumi preview --expect-no-changes\` passed).\n`);
  });

  it("3. an unlabelled node-4 joins: nothing changes", async () => {
    createNode("node-4", "192.0.2.14", false);
    await until("node-4 Ready", () => (readyStatus("node-4") === "True" ? true : undefined), 60);
    const r = await pulumi("preview --expect-no-changes (unlabelled)", "preview", "--expect-no-changes");
    expect(r.status, r.out).toBe(0);
  });

  it("4. node-4 labelled: exactly one update per LB host, each showing node-4's two server lines; the check fails with the plan; --apply ups it", async () => {
    const before = liveConfigs();
    cluster.kubectl("label", "node", "node-4", `${LABEL}=true`);
    const plan = ok(await pulumi("preview --json (node-4)", "preview", "--json"));
    expect(changedSteps(plan)).toEqual(PUSH_UPDATES);
    const shown = ok(await pulumi("preview --diff (node-4)", "preview", "--diff"));
    console.log(`preview --diff (node-4 labelled):\n${shown.out}`);
    const node4 = { added: serverLines("node-4"), removed: [] };
    expect(outputLineDiffs(shown.out, "haproxyConfigs")).toEqual({ "lb-1": node4, "lb-2": node4 });
    expect(shown.out).toMatch(/Resources:\n +~ 2 to update\n/);

    const check = await followCluster();
    expect(check.code, check.out).toBe(1);
    expect(check.out).toContain("Nodes added: node-4; nodes removed: none.\nHAProxy configs to push: ingress-lb-lb-1-push, ingress-lb-lb-2-push.\n");
    expect(liveConfigs()).toEqual(before); // a check pushes nothing

    const applied = await followCluster("--apply");
    expect(applied.code, applied.out).toBe(0);
    expect(applied.out).toContain("Applying: only HAProxy configs change, so `pulumi up` runs now.\n");
    expect(liveConfigs()).toEqual(expectedConfigs(["node-1", "node-2", "node-3", "node-4"]));
    expect(secretLines().length).toBeGreaterThan(10);
    for (const line of secretLines()) for (const text of [shown.out, plan.out, check.out, applied.out]) expect(text).not.toContain(line);
    const again = await pulumi("preview --expect-no-changes (after apply)", "preview", "--expect-no-changes");
    expect(again.status, again.out).toBe(0);
  });

  it("5. node-2 cordoned: left out (exclude.cordoned), listed with the reason", async () => {
    cluster.kubectl("cordon", "node-2");
    const plan = ok(await pulumi("preview --json (cordoned)", "preview", "--json"));
    expect(changedSteps(plan)).toEqual(PUSH_UPDATES);
    ok(await pulumi("up (cordoned)", "up", "--yes", "--skip-preview"));
    for (const cfg of Object.values(liveConfigs())) expect(servers(cfg)).toEqual(["node-1", "node-3", "node-4"]);
    const outputs = JSON.parse(ok(await pulumi("stack output", "stack", "output", "--json")).stdout);
    expect(outputs.backendSource.leftOut).toEqual([{ name: "node-2", reason: "cordoned (spec.unschedulable)" }]);
  });

  it("5b. node-3's kubelet stops reporting: kept within exclude.notReadyGraceSeconds, left out after it, back when Ready", async () => {
    // kwok stops playing node-3's kubelet (kwok-stages.ts); the test writes what a kubelet that went
    // NotReady leaves in the API: Ready False, with the time of the transition.
    cluster.kubectl("label", "node", "node-3", `${KUBELET_STOPPED.label}=${KUBELET_STOPPED.value}`);
    const notReadySince = (secondsAgo: number): string => {
      const since = new Date(Math.floor(Date.now() / 1000 - secondsAgo) * 1000).toISOString().replace(".000Z", "Z");
      const ready = { type: "Ready", status: "False", reason: "KubeletNotReady", message: "test: the kubelet stopped reporting", lastHeartbeatTime: since, lastTransitionTime: since };
      cluster.kubectl("patch", "node", "node-3", "--subresource=status", "--type=strategic", "-p", JSON.stringify({ status: { conditions: [ready] } }));
      return since;
    };
    // 60 s < 300 s (the default grace): still a backend, nothing to push.
    notReadySince(60);
    const within = await pulumi("preview --expect-no-changes (NotReady 60 s)", "preview", "--expect-no-changes");
    expect(within.status, within.out).toBe(0);
    expect(readyStatus("node-3")).toBe("False"); // still False after the preview: kwok left it alone

    // 400 s > 300 s: left out, with exactly the two server lines per LB in the diff.
    const since = notReadySince(400);
    await removalPreviewedThenUp("NotReady 400 s", "node-3", ["node-1", "node-4"]);
    const outputs = JSON.parse(ok(await pulumi("stack output", "stack", "output", "--json")).stdout);
    expect(outputs.backendSource.leftOut).toEqual([
      { name: "node-2", reason: "cordoned (spec.unschedulable)" },
      { name: "node-3", reason: `Ready False since ${since.replace("Z", ".000Z")}, longer than nodeDiscovery.exclude.notReadyGraceSeconds (300)` },
    ]);
    expect(readyStatus("node-3")).toBe("False");

    // The kubelet is back (kwok's node-initialize stage reports Ready True): node-3 returns.
    cluster.kubectl("label", "node", "node-3", `${KUBELET_STOPPED.label}-`);
    await until("node-3 Ready again", () => (readyStatus("node-3") === "True" ? true : undefined), 60);
    ok(await pulumi("up (Ready again)", "up", "--yes", "--skip-preview"));
    for (const cfg of Object.values(liveConfigs())) expect(servers(cfg)).toEqual(["node-1", "node-3", "node-4"]);
  });

  it("6. node-4 deleted: removed", async () => {
    cluster.kubectl("delete", "node", "node-4");
    await removalPreviewedThenUp("deleted", "node-4", ["node-1", "node-3"]);
  });

  it("7. the shrink guard: removing more than maxRemovedShare of the deployed backends fails up before any push", async () => {
    // Deployed: node-1, node-3. node-3 loses its label: node-1 only = 1 of 2 removed, more than 0.4.
    await config("set", "--path", "nodeDiscovery.maxRemovedShare", "0.4", "--type", "float");
    cluster.kubectl("label", "node", "node-3", `${LABEL}-`);
    const before = liveConfigs();
    const r = await pulumi("up (shrink guard)", "up", "--yes");
    expect(r.status).not.toBe(0);
    expect(r.out).toContain("ingress-haproxy:nodeDiscovery.maxRemovedShare: this change removes 1 of the 2 deployed backends (node-3 (192.0.2.13)), more than 0.4 of them;");
    expect(r.out).not.toMatch(/ingress-lb-lb-[12]-push (updating|updated)/);
    expect(liveConfigs()).toEqual(before);
    cluster.kubectl("label", "node", "node-3", `${LABEL}=true`);
  });

  it("8. a selector that matches nothing fails up before any push, naming the selector", async () => {
    await config("set", "--path", "nodeDiscovery.maxRemovedShare", "1", "--type", "float");
    await config("set", "--path", "nodeDiscovery.selector", `${LABEL}=nothing`);
    const before = liveConfigs();
    const r = await pulumi("up (empty selector)", "up", "--yes");
    expect(r.status).not.toBe(0);
    expect(r.out).toContain(`ingress-haproxy:nodeDiscovery.selector: "${LABEL}=nothing" matches none of the cluster's 3 Nodes;`);
    expect(r.out).not.toMatch(/ingress-lb-lb-[12]-push (updating|updated)/);
    expect(liveConfigs()).toEqual(before);
    await config("set", "--path", "nodeDiscovery.selector", SELECTOR);
  });

  it("9. one cluster state, one haproxy.cfg: the pushed bytes, the stack output and the selection from the Nodes list in reverse order", async () => {
    await config("rm", "--path", "nodeDiscovery.maxRemovedShare");
    const r = await pulumi("preview --expect-no-changes (back)", "preview", "--expect-no-changes");
    expect(r.status, r.out).toBe(0);
    const live = liveConfigs();
    const outputs = JSON.parse(ok(await pulumi("stack output", "stack", "output", "--json")).stdout);
    expect(outputs.haproxyConfigs).toEqual(live);
    const items = cluster.json("get", "nodes").items;
    expect(items.map((n: any) => n.metadata.name)).toEqual(["node-1", "node-2", "node-3"]);
    const discovery = checkSettings(raw, { sshPrivateKey: true }).nodeDiscovery!;
    for (const order of [items, [...items].reverse()]) {
      const s = settingsFor(selectNodes(order, discovery, new Date()).nodes);
      expect(Object.fromEntries(s.loadBalancers.map((lb) => [lb.name, renderHaproxyConfig(s, lb)]))).toEqual(live);
    }
    for (const cfg of Object.values(live)) expect(servers(cfg)).toEqual(["node-1", "node-3"]);
    // `npm run render` from the live cluster and from the saved Nodes list in reverse order: the same bytes.
    const list = YAML.parse(cluster.kubectl("get", "nodes", "-o", "yaml"));
    const reversed = writeTmp("nodes-reversed.yaml", YAML.stringify({ ...list, items: [...list.items].reverse() }));
    for (const [source, value] of [["--kubeconfig", cluster.kubeconfig], ["--nodes-yaml", reversed]]) {
      const out = join(project.dir, `render${source}`);
      const r = spawnSync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "scripts/render.ts"), STACK, "--config-file", join(project.dir, `Pulumi.${STACK}.yaml`), source, value, "--out", out], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(Object.fromEntries(hosts.loadBalancers.map((lb) => [lb.name, readFileSync(join(out, "lb", lb.name, "haproxy.cfg"), "utf8")]))).toEqual(live);
    }
  });
});
