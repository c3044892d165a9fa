// The shrink guard: a change that removes more than nodeDiscovery.maxRemovedShare of the backends the
// stack last deployed fails, naming the nodes, before anything is created or pushed. A wrong context,
// a cluster half-way through a reboot or a selector typo cannot silently empty the load balancers.
import { NodeSettings, SettingsProblem, canonicalIp } from "../settings";

/** A deployed backend: its name when the stack recorded it, its address always. */
export interface DeployedBackend {
  readonly name?: string;
  readonly address: string;
}

/** The problem when `next` drops more than `maxRemovedShare` of `deployed` (compared by address), else none. */
export function shrinkProblems(deployed: DeployedBackend[] | undefined, next: NodeSettings[], maxRemovedShare: number): SettingsProblem[] {
  if (!deployed?.length) return [];
  const kept = new Set(next.map((n) => canonicalIp(n.address)));
  const removed = deployed.filter((d) => !kept.has(canonicalIp(d.address)));
  if (removed.length / deployed.length <= maxRemovedShare) return [];
  const named = removed.map((d) => (d.name ? `${d.name} (${d.address})` : d.address)).join(", ");
  return [
    {
      path: "ingress-haproxy:nodeDiscovery.maxRemovedShare",
      message: `this change removes ${removed.length} of the ${deployed.length} deployed backends (${named}), more than ${maxRemovedShare} of them; check that the Kubernetes provider's context is the intended cluster and that the nodes are healthy. If the removal is intended, allow it for this deploy: pulumi config set --path 'ingress-haproxy:nodeDiscovery.maxRemovedShare' 1 (and set it back afterwards)`,
    },
  ];
}

/** The deployed backends from the stack's previous outputs: `backendSource.nodes`, or, from an older deploy, the addresses in `backends.https`. */
export function deployedBackendsFromOutputs(backendSource: unknown, backends: unknown): DeployedBackend[] | undefined {
  const nodes = (backendSource as { nodes?: unknown } | undefined)?.nodes;
  if (Array.isArray(nodes) && nodes.every((n) => typeof n?.address === "string")) return nodes.map((n) => ({ name: typeof n.name === "string" ? n.name : undefined, address: n.address }));
  const https = (backends as { https?: unknown } | undefined)?.https;
  if (Array.isArray(https) && https.every((h) => typeof h === "string"))
    return https.map((h: string) => ({ address: h.replace(/:[0-9]+$/, "").replace(/^\[(.*)\]$/, "$1") }));
  return undefined;
}
