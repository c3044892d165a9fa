// Node discovery: the pure selection (selector, exclude policy, address type, order) with exact
// results and errors, and the real @kubernetes/client-node reading the stand-in API server through
// the kubeconfig resolution the program uses.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { matchesSelector, parseLabelSelector } from "../../components/discovery/label-selector";
import { clusterAccessFromConfig, listClusterNodes, loadKubeConfig } from "../../components/discovery/list-nodes";
import { DiscoveryError, NodeObject, selectNodes } from "../../components/discovery/select-nodes";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { NodeDiscoverySettings, parseSettings } from "../../components/settings";
import { devRaw } from "../fixtures/settings";
import { INGRESS_SELECTOR, NOW, clusterNodes, node } from "../fixtures/nodes";
import { NodeListStandin, STANDIN_TOKEN, startNodeListStandin } from "../fixtures/node-list-apiserver-standin";

const discovery = (d: Partial<NodeDiscoverySettings> = {}): NodeDiscoverySettings => ({
  selector: INGRESS_SELECTOR,
  addressType: "InternalIP",
  exclude: { cordoned: true, notReadyGraceSeconds: 300 },
  maxRemovedShare: 0.5,
  ...d,
});

function problemsOf(run: () => unknown): { path: string; message: string }[] {
  try {
    run();
  } catch (e) {
    if (!(e instanceof DiscoveryError)) throw e;
    return e.problems;
  }
  throw new Error("expected a DiscoveryError");
}

describe("label selectors match as Kubernetes does", () => {
  const labels = { "node-role.example.com/ingress": "true", zone: "a" };
  const cases: [string, boolean][] = [
    ["", true],
    ["zone", true],
    ["!zone", false],
    ["!gpu", true],
    ["zone=a", true],
    ["zone==b", false],
    ["zone!=b", true],
    ["gpu!=yes", true],
    ["zone in (a, b)", true],
    ["zone notin (a)", false],
    ["gpu notin (yes)", true],
    ["gpu in (yes)", false],
    ["node-role.example.com/ingress=true,zone=a", true],
    ["node-role.example.com/ingress=true,zone=b", false],
  ];
  it.each(cases)("%j matches: %s", (selector, expected) => {
    const parsed = parseLabelSelector(selector);
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && matchesSelector(parsed.requirements, labels)).toBe(expected);
  });
});

describe("selectNodes", () => {
  it("keeps the matching nodes with their first InternalIP, sorted by name", () => {
    expect(selectNodes(clusterNodes(), discovery(), NOW)).toEqual({
      nodes: [
        { name: "node-1", address: "192.0.2.11" },
        { name: "node-2", address: "192.0.2.12" },
        { name: "node-3", address: "192.0.2.13" },
      ],
      leftOut: [],
    });
  });

  it("ExternalIP and InternalIPv6First pick those addresses; IPv6 first falls back to the first InternalIP", () => {
    expect(selectNodes(clusterNodes(), discovery({ addressType: "ExternalIP" }), NOW).nodes.map((n) => n.address)).toEqual(["203.0.113.11", "203.0.113.12", "203.0.113.13"]);
    const nodes = [...clusterNodes(), node("node-4", { labels: { "node-role.example.com/ingress": "true" }, internal: ["192.0.2.14"] })];
    expect(selectNodes(nodes, discovery({ addressType: "InternalIPv6First" }), NOW).nodes.map((n) => n.address)).toEqual(["2001:db8::11", "2001:db8::12", "2001:db8::13", "192.0.2.14"]);
  });

  it("leaves out cordoned nodes and nodes NotReady past the grace period, with the reason; keeps those within it", () => {
    const L = { "node-role.example.com/ingress": "true" };
    const nodes = [
      node("a-cordoned", { labels: L, internal: ["192.0.2.21"], cordoned: true }),
      node("b-notready-long", { labels: L, internal: ["192.0.2.22"], ready: "False", since: "2026-12-01T07:54:59Z" }),
      node("c-notready-short", { labels: L, internal: ["192.0.2.23"], ready: "Unknown", since: "2026-12-01T07:55:00Z" }),
      node("d-never-ready", { labels: L, internal: ["192.0.2.24"], ready: "absent" }),
      node("e-ready", { labels: L, internal: ["192.0.2.25"] }),
    ];
    expect(selectNodes(nodes, discovery(), NOW)).toEqual({
      nodes: [
        { name: "c-notready-short", address: "192.0.2.23" },
        { name: "e-ready", address: "192.0.2.25" },
      ],
      leftOut: [
        { name: "a-cordoned", reason: "cordoned (spec.unschedulable)" },
        { name: "b-notready-long", reason: "Ready False since 2026-12-01T07:54:59.000Z, longer than nodeDiscovery.exclude.notReadyGraceSeconds (300)" },
        { name: "d-never-ready", reason: "no Ready condition since 2026-11-01T00:00:00.000Z, longer than nodeDiscovery.exclude.notReadyGraceSeconds (300)" },
      ],
    });
    // With cordoned nodes kept and a day's grace, only the node that has not been Ready for a month stays out.
    expect(selectNodes(nodes, discovery({ exclude: { cordoned: false, notReadyGraceSeconds: 86400 } }), NOW).nodes.map((n) => n.name)).toEqual([
      "a-cordoned",
      "b-notready-long",
      "c-notready-short",
      "e-ready",
    ]);
  });

  it("zero matching nodes is an error naming the selector, never an empty backend list", () => {
    expect(problemsOf(() => selectNodes(clusterNodes(), discovery({ selector: "node-role.example.com/ingress=yes" }), NOW))).toEqual([
      {
        path: "ingress-haproxy:nodeDiscovery.selector",
        message: `"node-role.example.com/ingress=yes" matches none of the cluster's 4 Nodes; check the selector (kubectl get nodes -l "node-role.example.com/ingress=yes") and that the Kubernetes provider's context is the intended cluster. HAProxy is never given a config without backends.`,
      },
    ]);
    expect(problemsOf(() => selectNodes([], discovery(), NOW))[0].message).toMatch(/^"node-role.example.com\/ingress=true" matches none of the cluster's 0 Nodes;/);
  });

  it("every matching node left out is an error listing them", () => {
    const nodes = clusterNodes().map((n) => ({ ...n, spec: { unschedulable: true } }));
    expect(problemsOf(() => selectNodes(nodes, discovery(), NOW))).toEqual([
      {
        path: "ingress-haproxy:nodeDiscovery.exclude",
        message:
          'leaves out all 3 nodes "node-role.example.com/ingress=true" matches (node-1: cordoned (spec.unschedulable); node-2: cordoned (spec.unschedulable); node-3: cordoned (spec.unschedulable)); HAProxy is never given a config without backends. Uncordon or repair a node, or relax nodeDiscovery.exclude.',
      },
    ]);
  });

  it("a kept node without an address of the wanted type is named; a left-out one needs none", () => {
    const L = { "node-role.example.com/ingress": "true" };
    const nodes = [...clusterNodes(), node("node-4", { labels: L, internal: ["192.0.2.14"] }), node("node-5", { labels: L, cordoned: true })];
    expect(problemsOf(() => selectNodes(nodes, discovery({ addressType: "ExternalIP" }), NOW))).toEqual([
      {
        path: "ingress-haproxy:nodeDiscovery.addressType",
        message: "node node-4 has no ExternalIP address (it has InternalIP 192.0.2.14, Hostname node-4); choose another nodeDiscovery.addressType, or narrow nodeDiscovery.selector to nodes that have one",
      },
    ]);
  });

  it("the API's list order does not matter: shuffled lists give a byte-identical haproxy.cfg", () => {
    const { nodes: _n, ...raw } = devRaw();
    const render = (items: NodeObject[]) => {
      const s = parseSettings({ ...raw, nodeDiscovery: { selector: INGRESS_SELECTOR } }, { sshPrivateKey: true }, selectNodes(items, discovery(), NOW).nodes);
      return renderHaproxyConfig(s, s.loadBalancers[0]);
    };
    const base = clusterNodes();
    const reference = render(base);
    expect(reference).toContain("server node-1 192.0.2.11:30112 send-proxy check");
    // Every permutation of the four nodes.
    const permutations = (xs: NodeObject[]): NodeObject[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));
    const all = permutations(base);
    expect(all.length).toBe(24);
    expect(new Set(all.map(render))).toEqual(new Set([reference]));
    // Counterfactual: the config does follow node order, so without the sort the order would leak into it.
    const listed = parseSettings(devRaw(), { sshPrivateKey: true });
    const reversed = { ...listed, nodes: [...listed.nodes].reverse() };
    expect(renderHaproxyConfig(reversed, reversed.loadBalancers[0])).not.toBe(renderHaproxyConfig(listed, listed.loadBalancers[0]));
  });
});

describe("listing with the real client against the stand-in API server", () => {
  let api: NodeListStandin;
  beforeAll(async () => {
    api = await startNodeListStandin();
  });
  afterAll(() => api.close());

  it("reads the Nodes through kubernetes:kubeconfig (a path), with the user's token", async () => {
    api.nodes = clusterNodes();
    api.status = 200;
    api.requests.length = 0;
    const items = await listClusterNodes(loadKubeConfig(clusterAccessFromConfig({ "kubernetes:kubeconfig": api.kubeconfig })));
    expect(items.map((n) => n.metadata?.name)).toEqual(["node-3", "control-1", "node-1", "node-2"]);
    expect(selectNodes(items, discovery(), NOW).nodes.map((n) => `${n.name} ${n.address}`)).toEqual(["node-1 192.0.2.11", "node-2 192.0.2.12", "node-3 192.0.2.13"]);
    expect(api.requests).toEqual([{ method: "GET", url: "/api/v1/nodes", authorization: `Bearer ${STANDIN_TOKEN}` }]);
  });

  it("the client's parsed timestamps give the same selection as the JSON text", async () => {
    const L = { "node-role.example.com/ingress": "true" };
    api.nodes = [...clusterNodes(), node("node-4", { labels: L, internal: ["192.0.2.14"], ready: "False", since: "2026-12-01T07:00:00Z" })];
    const items = await listClusterNodes(loadKubeConfig({ kubeconfig: api.kubeconfig }));
    expect(selectNodes(items, discovery(), NOW)).toEqual(selectNodes(api.nodes as NodeObject[], discovery(), NOW));
    expect(selectNodes(items, discovery(), NOW).leftOut).toEqual([
      { name: "node-4", reason: "Ready False since 2026-12-01T07:00:00.000Z, longer than nodeDiscovery.exclude.notReadyGraceSeconds (300)" },
    ]);
  });

  it("takes the kubeconfig contents too, and KUBECONFIG when the stack sets none", async () => {
    api.nodes = clusterNodes();
    const { readFileSync } = await import("node:fs");
    expect((await listClusterNodes(loadKubeConfig({ kubeconfig: readFileSync(api.kubeconfig, "utf8") }))).length).toBe(4);
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = api.kubeconfig;
    try {
      expect((await listClusterNodes(loadKubeConfig({}))).length).toBe(4);
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it("kubernetes:context and kubernetes:cluster switch the cluster, as the provider does", async () => {
    expect(loadKubeConfig({ kubeconfig: api.kubeconfig, context: "other" }).getCurrentCluster()?.server).toBe("https://127.0.0.1:9");
    expect(loadKubeConfig({ kubeconfig: api.kubeconfig, context: "other", cluster: "standin" }).getCurrentCluster()?.server).toBe(api.url);
    expect(() => loadKubeConfig({ kubeconfig: api.kubeconfig, context: "prod" })).toThrow(
      'ingress-haproxy:nodeDiscovery: the context "prod" (kubernetes:context) is not in the kubeconfig; its contexts: standin, other',
    );
    expect(() => loadKubeConfig({ kubeconfig: api.kubeconfig, cluster: "prod" })).toThrow('ingress-haproxy:nodeDiscovery: the cluster "prod" (kubernetes:cluster) is not in the kubeconfig');
  });

  it("a refusal names the server, the context and the permission needed", async () => {
    api.status = 403;
    try {
      await expect(listClusterNodes(loadKubeConfig({ kubeconfig: api.kubeconfig }))).rejects.toThrow(
        `ingress-haproxy:nodeDiscovery: cannot list the Nodes of ${api.url} (context "standin"): the API server answered HTTP 403 (the credentials may not list nodes: discovery needs \`list\` on \`nodes\`, cluster-wide); check kubernetes:kubeconfig / KUBECONFIG and kubernetes:context`,
      );
    } finally {
      api.status = 200;
    }
  });
});
