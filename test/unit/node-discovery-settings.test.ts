// nodeDiscovery in the schema: exclusive with nodes, its own fields validated with the fix named, and
// discovered nodes checked by the same schema (and cross-field checks) as listed ones.
import { describe, expect, it } from "vitest";
import { parseSettings } from "../../components/settings";
import { HOST_KEY_1, devRaw, problemsOf } from "../fixtures/settings";

const SELECTOR_FIX =
  "write requirements separated by ',', each key, !key, key=value, key!=value, key in (a,b) or key notin (a,b), e.g. node-role.example.com/ingress=true";

function discoveryRaw(nodeDiscovery: Record<string, unknown> = { selector: "ingress=true" }): Record<string, any> {
  const { nodes: _nodes, ...raw } = devRaw();
  return { ...raw, nodeDiscovery };
}

const SECRETS = { sshPrivateKey: true };
const DISCOVERED = [
  { name: "node-1", address: "192.0.2.11" },
  { name: "node-2.example.com", address: "192.0.2.12" },
];

describe("nodeDiscovery settings", () => {
  it("fills the defaults: InternalIP, cordoned and NotReady-past-300-s nodes left out, at most half the backends removed", () => {
    const s = parseSettings(discoveryRaw(), SECRETS, DISCOVERED);
    expect(s.nodeDiscovery).toEqual({ selector: "ingress=true", addressType: "InternalIP", exclude: { cordoned: true, notReadyGraceSeconds: 300 }, maxRemovedShare: 0.5 });
    expect(s.nodes).toEqual(DISCOVERED);
  });

  it("is exclusive with nodes, and one of them is required", () => {
    expect(problemsOf({ ...devRaw(), nodeDiscovery: { selector: "a=b" } })).toEqual([
      { path: "ingress-haproxy:nodeDiscovery", message: "and nodes are both set; use exactly one: remove nodes to discover the nodes from the cluster, or remove nodeDiscovery to keep the list" },
    ]);
    const { nodes: _n, ...neither } = devRaw();
    expect(problemsOf(neither)).toEqual([
      { path: "ingress-haproxy:nodes", message: "is required, or nodeDiscovery instead: list the nodes ({name, address}), or set nodeDiscovery.selector to find them in the cluster" },
    ]);
  });

  const selectorCases: [string, string][] = [
    ["a=b,,c", "has an empty requirement (two commas in a row, or a comma at an end)"],
    ["a in ()", '"a in ()": a set needs at least one value, e.g. a in (a,b)'],
    ["a in (b", "has unbalanced parentheses"],
    ["Role=in gress", '"Role=in gress" is not a requirement'],
    ["-bad=x", "\"-bad\" is not a label key ([prefix/]name, name at most 63 letters, digits, '-', '_' or '.')"],
    ["a=b c", '"a=b c" is not a requirement'],
    ["a=" + "v".repeat(64), `"${"v".repeat(64)}" is not a label value (at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric)`],
  ];
  it.each(selectorCases)("refuses the selector %j, naming the setting and the grammar", (selector, error) => {
    expect(problemsOf(discoveryRaw({ selector }))).toEqual([
      { path: "ingress-haproxy:nodeDiscovery.selector", message: `${JSON.stringify(selector)} is not a Kubernetes label selector: ${error}; ${SELECTOR_FIX}` },
    ]);
  });

  it("refuses every other bad field with its fix", () => {
    expect(problemsOf(discoveryRaw({}))).toEqual([
      { path: "ingress-haproxy:nodeDiscovery.selector", message: 'is required: the label selector of the nodes HAProxy sends traffic to, e.g. node-role.example.com/ingress=true ("" selects every node)' },
    ]);
    expect(problemsOf(discoveryRaw({ selector: "a", addressType: "Hostname", maxRemovedShare: 1.5, exclude: { notReadyGraceSeconds: -1, drained: true } }))).toEqual([
      { path: "ingress-haproxy:nodeDiscovery.addressType", message: '"Hostname" must be one of InternalIP, ExternalIP, InternalIPv6First (InternalIPv6First: a node\'s first IPv6 InternalIP, else its first InternalIP)' },
      { path: "ingress-haproxy:nodeDiscovery.exclude.notReadyGraceSeconds", message: "-1 must be 0 or more seconds, e.g. 300" },
      { path: "ingress-haproxy:nodeDiscovery.exclude.drained", message: 'is not a setting; check the spelling against README "Configuration"' },
      { path: "ingress-haproxy:nodeDiscovery.maxRemovedShare", message: "1.5 must be between 0 and 1, e.g. 0.5" },
    ]);
  });

  it("accepts every selector form of the grammar", () => {
    for (const selector of ["", "a", "!a", "a=b", "a==b", "a!=b", "example.com/a in (x, y)", "a notin (x),b,!c", " a = b , c "])
      expect(parseSettings(discoveryRaw({ selector }), SECRETS, DISCOVERED).nodeDiscovery?.selector).toBe(selector);
  });
});

describe("discovered nodes go through the same checks as listed ones", () => {
  const fix = "; change nodeDiscovery.selector (or the node) so the selected nodes are distinct machines the load balancers reach";
  const problems = (raw: Record<string, any>, discovered: { name: string; address: string }[]) => {
    try {
      parseSettings(raw, SECRETS, discovered);
    } catch (e) {
      return (e as { problems: unknown }).problems;
    }
    throw new Error("expected a SettingsError");
  };

  it("the same address twice, one of them IPv4-mapped IPv6", () => {
    expect(problems(discoveryRaw(), [DISCOVERED[0], { name: "node-9", address: "::ffff:192.0.2.11" }])).toEqual([
      { path: "ingress-haproxy:nodeDiscovery", message: `discovered node node-9 address: ::ffff:192.0.2.11 is the same address as discovered node node-1 (192.0.2.11); list each node once${fix}` },
    ]);
  });

  it("a load balancer at a discovered node's address", () => {
    expect(problems({ ...discoveryRaw(), loadBalancers: [{ name: "lb-1", address: "192.0.2.12", hostKey: HOST_KEY_1 }] }, DISCOVERED)).toEqual([
      { path: "ingress-haproxy:loadBalancers[0].address", message: "192.0.2.12 is also a node address; a load balancer must be a separate host" },
    ]);
  });

  it("a keepalived floating address that a discovered node holds", () => {
    const raw = {
      ...discoveryRaw(),
      loadBalancers: [
        { name: "lb-1", address: "198.51.100.10", hostKey: HOST_KEY_1, priority: 150 },
        { name: "lb-2", address: "198.51.100.11", hostKey: HOST_KEY_1, priority: 100 },
      ],
      keepalived: { virtualAddresses: ["192.0.2.12"] },
    };
    expect(() => parseSettings(raw, { ...SECRETS, vrrpPassword: true }, DISCOVERED)).toThrow(
      "keepalived.virtualAddresses[0]: 192.0.2.12 is the address of discovered node node-2.example.com (node-2.example.com); a floating address must be an otherwise unused address on the load balancers' network",
    );
  });

  it("an address with a zone", () => {
    expect(problems(discoveryRaw(), [{ name: "node-1", address: "fe80::1%eth0" }])).toEqual([
      { path: "ingress-haproxy:nodeDiscovery", message: `discovered node node-1 address: "fe80::1%eth0" has an IPv6 zone; write the address without %zone, e.g. fe80::11${fix}` },
    ]);
  });

  it("without the discovered nodes, parseSettings refuses to guess", () => {
    expect(() => parseSettings(discoveryRaw(), SECRETS)).toThrow("parseSettings: nodeDiscovery is set; pass the nodes discovered for it (components/discovery)");
  });
});
