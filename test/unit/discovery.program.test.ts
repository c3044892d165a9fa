// The whole program (index.ts) with nodeDiscovery under Pulumi mocks, listing Nodes from the stand-in
// API server through `kubernetes:kubeconfig` with the real client: the exact resources and haproxy.cfg
// (byte-identical to the same nodes listed by hand, whatever the API's order), the backendSource
// output, and every discovery failure and shrink-guard refusal before any resource is registered (the
// last deployed backends are read with the engine's readStackOutputs function, faked here).
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { renderHaproxyConfig } from "../../components/haproxy/config";
import { devRaw, settingsOf } from "../fixtures/settings";
import { TEST_SSH_KEY, runProgram, stackConfig } from "../fixtures/program";
import { recorded, registeredSorted, settled, unwrapSecret } from "../fixtures/mocks";
import { INGRESS_SELECTOR, clusterNodes, node } from "../fixtures/nodes";
import { NodeListStandin, startNodeListStandin } from "../fixtures/node-list-apiserver-standin";
import { READ_STACK_OUTPUTS } from "../../components/discovery/deployed-backends";

/** What the engine's readStackOutputs returns as the stack's last deployed outputs (undefined: a new stack). */
let deployedOutputs: Record<string, unknown> | undefined;
/** The stack names the program read outputs of (the engine's built-in function, invoked). */
const outputReads: string[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => {
        if (args.token !== READ_STACK_OUTPUTS) return args.inputs;
        outputReads.push(args.inputs.name);
        return { name: args.inputs.name, outputs: deployedOutputs ?? {}, secretOutputNames: [] };
      },
    },
    "ingress-haproxy",
    "test",
    false,
    "organization",
  );
});

let api: NodeListStandin;
beforeAll(async () => {
  api = await startNodeListStandin();
});
afterAll(() => api.close());
beforeEach(() => {
  recorded.length = 0;
  deployedOutputs = undefined;
  outputReads.length = 0;
  api.nodes = clusterNodes();
  api.status = 200;
});

function discoveryStack(nodeDiscovery: Record<string, unknown> = { selector: INGRESS_SELECTOR }): void {
  const { nodes: _n, ...raw } = devRaw();
  stackConfig({ ...raw, nodeDiscovery }, { sshPrivateKey: TEST_SSH_KEY }, { "kubernetes:kubeconfig": api.kubeconfig });
}

/** backendSource when the selector finds node-1..3 (the dev stack's nodes). */
const THREE_NODES = {
  selector: INGRESS_SELECTOR,
  addressType: "InternalIP",
  nodes: [
    { name: "node-1", address: "192.0.2.11" },
    { name: "node-2", address: "192.0.2.12" },
    { name: "node-3", address: "192.0.2.13" },
  ],
  leftOut: [],
};

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: { name?: string; problems?: unknown }) => ({ name: e.name, problems: e.problems, runError: pulumi.RunError.isInstance(e) }),
  );

describe("index.ts with nodeDiscovery", () => {
  it("registers exactly the listed stack's resources, reads its own last outputs, pushes the same haproxy.cfg, and outputs where the backends came from", async () => {
    stackConfig(devRaw(), { sshPrivateKey: TEST_SSH_KEY });
    await runProgram();
    const listedResources = await registeredSorted();
    const listedStdin = unwrapSecret<string>(recorded.find((r) => r.type === "command:remote:Command")!.inputs.stdin);
    recorded.length = 0;

    api.nodes = [...clusterNodes(), node("node-0", { labels: { other: "x" }, internal: ["192.0.2.99"] })].reverse();
    discoveryStack();
    const out = await runProgram();
    expect(await registeredSorted()).toEqual(listedResources);
    expect(outputReads).toEqual(["organization/ingress-haproxy/test"]);
    const stdin = unwrapSecret<string>(recorded.find((r) => r.type === "command:remote:Command")!.inputs.stdin);
    // The dev stack lists node-1..3 at 192.0.2.11-13, exactly what the selector finds.
    expect(stdin).toBe(listedStdin);
    const s = settingsOf(devRaw());
    expect(stdin).toBe(renderHaproxyConfig(s, s.loadBalancers[0]));
    expect(await value(out.backendSource)).toEqual(THREE_NODES);
    expect(await value(out.backends)).toEqual({ http: ["192.0.2.11:30111", "192.0.2.12:30111", "192.0.2.13:30111"], https: ["192.0.2.11:30112", "192.0.2.12:30112", "192.0.2.13:30112"] });
  });

  it("reports the nodes left out, with the reason", async () => {
    api.nodes = [...clusterNodes(), node("node-4", { labels: { "node-role.example.com/ingress": "true" }, internal: ["192.0.2.14"], cordoned: true })];
    discoveryStack();
    const out = await runProgram();
    expect((await value(out.backendSource)).leftOut).toEqual([{ name: "node-4", reason: "cordoned (spec.unschedulable)" }]);
  });

  it("a listed stack has no backendSource output and never reads its own outputs", async () => {
    stackConfig(devRaw(), { sshPrivateKey: TEST_SSH_KEY });
    const out = await runProgram();
    expect(Object.keys(out).sort()).toEqual(["backends", "haproxyConfigs", "keepalived", "loadBalancers", "namespace", "nodePorts", "serviceName"]);
    await settled(); // every registration and invoke of this run is in
    expect(outputReads).toEqual([]);
  });
});

describe("index.ts refuses before registering a resource", () => {
  const SELECTOR_PATH = "ingress-haproxy:nodeDiscovery.selector";

  it.each([
    ["no node matches the selector", () => discoveryStack({ selector: "node-role.example.com/ingress=yes" }), SELECTOR_PATH],
    ["a node lacks the address type", () => discoveryStack({ selector: INGRESS_SELECTOR, addressType: "InternalIPv6First" }), "ingress-haproxy:nodeDiscovery.addressType"],
  ])("%s: a DiscoveryError, and not one resource", async (_what, configure, path) => {
    api.nodes = [...clusterNodes(), node("node-4", { labels: { "node-role.example.com/ingress": "true" } })];
    configure();
    const e = await failure(runProgram());
    expect(e?.name).toBe("DiscoveryError");
    expect(e?.runError).toBe(true);
    expect((e?.problems as { path: string }[]).map((p) => p.path)).toEqual([path]);
    expect(await settled()).toEqual([]);
  });

  it("the API server refusing the list: the error names the server, and not one resource", async () => {
    api.status = 403;
    discoveryStack();
    expect(await failure(runProgram())).toEqual({
      name: "DiscoveryError",
      runError: true,
      problems: [
        {
          path: "ingress-haproxy:nodeDiscovery",
          message: `cannot list the Nodes of ${api.url} (context "standin"): the API server answered HTTP 403 (the credentials may not list nodes: discovery needs \`list\` on \`nodes\`, cluster-wide); check kubernetes:kubeconfig / KUBECONFIG and kubernetes:context`,
        },
      ],
    });
    expect(await settled()).toEqual([]);
  });

  it("the shrink guard: 2 of 3 deployed backends gone fails, naming them and the setting; only the self-reference was registered", async () => {
    deployedOutputs = { backendSource: THREE_NODES };
    api.nodes = clusterNodes().filter((n) => n.metadata?.name !== "node-2" && n.metadata?.name !== "node-3");
    discoveryStack();
    expect(await failure(runProgram())).toEqual({
      name: "DiscoveryError",
      runError: true,
      problems: [
        {
          path: "ingress-haproxy:nodeDiscovery.maxRemovedShare",
          message:
            "this change removes 2 of the 3 deployed backends (node-2 (192.0.2.12), node-3 (192.0.2.13)), more than 0.5 of them; check that the Kubernetes provider's context is the intended cluster and that the nodes are healthy. If the removal is intended, allow it for this deploy: pulumi config set --path 'ingress-haproxy:nodeDiscovery.maxRemovedShare' 1 (and set it back afterwards)",
        },
      ],
    });
    expect(await registeredSorted()).toEqual([]);
    expect(outputReads).toEqual(["organization/ingress-haproxy/test"]);

    // Counterfactual: the same change with the share raised goes through.
    recorded.length = 0;
    discoveryStack({ selector: INGRESS_SELECTOR, maxRemovedShare: 1 });
    const out = await runProgram();
    expect((await value(out.backendSource)).nodes).toEqual([{ name: "node-1", address: "192.0.2.11" }]);
  });

  it("the shrink guard reads an older deploy's backends output (addresses only) when it has no backendSource", async () => {
    deployedOutputs = { backends: { http: [], https: ["192.0.2.11:30112", "[2001:db8::12]:30112", "192.0.2.13:30112"] } };
    api.nodes = clusterNodes().filter((n) => n.metadata?.name === "node-1");
    discoveryStack();
    const e = await failure(runProgram());
    expect((e?.problems as { message: string }[])[0].message).toMatch(/^this change removes 2 of the 3 deployed backends \(2001:db8::12, 192\.0\.2\.13\), more than 0\.5 of them;/);
  });

  it("removing exactly the share is allowed (more than, not at least)", async () => {
    deployedOutputs = { backendSource: { nodes: [{ name: "node-1", address: "192.0.2.11" }, { name: "node-9", address: "192.0.2.19" }] } };
    discoveryStack();
    const out = await runProgram();
    expect((await value(out.backendSource)).nodes.map((n: { name: string }) => n.name)).toEqual(["node-1", "node-2", "node-3"]);
  });
});
