// From a list of Kubernetes Node objects (live, or saved with `kubectl get nodes -o yaml`) to the
// backends: the nodes the selector matches, minus those the exclude policy leaves out, each with the
// address of the wanted type, sorted by name so haproxy.cfg does not depend on the API's list order.
import { isIP } from "node:net";
import { AddressType, NodeDiscoverySettings, NodeSettings, SettingsError, SettingsProblem } from "../settings";
import { matchesSelector, parseLabelSelector } from "./label-selector";

/** The fields of a v1 Node this program reads (timestamps as the API's JSON text, or as Dates from the client). */
export interface NodeObject {
  metadata?: { name?: string; labels?: Record<string, string>; creationTimestamp?: string | Date };
  spec?: { unschedulable?: boolean };
  status?: {
    addresses?: { type: string; address: string }[];
    conditions?: { type: string; status: string; lastTransitionTime?: string | Date }[];
  };
}

export interface LeftOutNode {
  readonly name: string;
  readonly reason: string;
}

export interface NodeSelection {
  /** The backends, sorted by name. */
  readonly nodes: NodeSettings[];
  /** Matching nodes the exclude policy left out, sorted by name. */
  readonly leftOut: LeftOutNode[];
}

const SETTING = "ingress-haproxy:nodeDiscovery";

/** Discovery could not give backends (or the shrink guard refused them): named like a settings problem. */
export class DiscoveryError extends SettingsError {
  constructor(problems: SettingsProblem[]) {
    super(problems, "Node discovery (nodeDiscovery) failed");
    this.name = "DiscoveryError";
  }
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The address HAProxy connects to, or undefined when the node has none of that type. */
export function nodeAddress(node: NodeObject, type: AddressType): string | undefined {
  const of = (t: string) => (node.status?.addresses ?? []).filter((a) => a.type === t).map((a) => a.address);
  if (type === "InternalIPv6First") return of("InternalIP").find((a) => isIP(a) === 6) ?? of("InternalIP")[0];
  return of(type)[0];
}

/** Why the policy leaves `node` out, or undefined when it stays. */
export function leftOutReason(node: NodeObject, exclude: NodeDiscoverySettings["exclude"], now: Date): string | undefined {
  if (exclude.cordoned && node.spec?.unschedulable === true) return "cordoned (spec.unschedulable)";
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.status === "True") return undefined;
  // A node that never reported Ready counts as not ready since it registered.
  const since = ready?.lastTransitionTime ?? node.metadata?.creationTimestamp;
  const sinceDate = since === undefined ? undefined : new Date(since);
  const stale = sinceDate === undefined || now.getTime() - sinceDate.getTime() > exclude.notReadyGraceSeconds * 1000;
  if (!stale) return undefined;
  const state = ready ? `Ready ${ready.status}` : "no Ready condition";
  return `${state} since ${sinceDate?.toISOString() ?? "an unknown time"}, longer than nodeDiscovery.exclude.notReadyGraceSeconds (${exclude.notReadyGraceSeconds})`;
}

function describeAddresses(node: NodeObject): string {
  const list = (node.status?.addresses ?? []).map((a) => `${a.type} ${a.address}`);
  return list.length ? `it has ${list.join(", ")}` : "its status.addresses is empty";
}

/**
 * The backends for `discovery` among `items`, or a DiscoveryError: no node matches the selector, the
 * policy leaves out every matching node, or a kept node has no address of the wanted type.
 */
export function selectNodes(items: NodeObject[], discovery: NodeDiscoverySettings, now: Date): NodeSelection {
  const parsed = parseLabelSelector(discovery.selector);
  if (!parsed.ok) throw new Error(`nodeDiscovery.selector was not validated: ${parsed.error}`);
  const matching = items.filter((n) => matchesSelector(parsed.requirements, n.metadata?.labels ?? {})).map((node) => ({ node, name: node.metadata?.name ?? "" }));
  const selector = JSON.stringify(discovery.selector);
  if (!matching.length)
    throw new DiscoveryError([
      {
        path: `${SETTING}.selector`,
        message: `${selector} matches none of the cluster's ${items.length} Nodes; check the selector (kubectl get nodes -l ${selector}) and that the Kubernetes provider's context is the intended cluster. HAProxy is never given a config without backends.`,
      },
    ]);
  const leftOut: LeftOutNode[] = [];
  const kept: { node: NodeObject; name: string }[] = [];
  for (const m of matching) {
    const reason = leftOutReason(m.node, discovery.exclude, now);
    if (reason) leftOut.push({ name: m.name, reason });
    else kept.push(m);
  }
  leftOut.sort(byName);
  if (!kept.length)
    throw new DiscoveryError([
      {
        path: `${SETTING}.exclude`,
        message: `leaves out all ${matching.length} nodes ${selector} matches (${leftOut.map((l) => `${l.name}: ${l.reason}`).join("; ")}); HAProxy is never given a config without backends. Uncordon or repair a node, or relax nodeDiscovery.exclude.`,
      },
    ]);
  const problems: SettingsProblem[] = [];
  const nodes: NodeSettings[] = [];
  for (const k of kept) {
    const address = nodeAddress(k.node, discovery.addressType);
    if (address === undefined)
      problems.push({
        path: `${SETTING}.addressType`,
        message: `node ${k.name} has no ${discovery.addressType === "InternalIPv6First" ? "InternalIP" : discovery.addressType} address (${describeAddresses(k.node)}); choose another nodeDiscovery.addressType, or narrow nodeDiscovery.selector to nodes that have one`,
      });
    else nodes.push({ name: k.name, address });
  }
  if (problems.length) throw new DiscoveryError(problems.sort((a, b) => (a.message < b.message ? -1 : 1)));
  return { nodes: nodes.sort(byName), leftOut };
}
