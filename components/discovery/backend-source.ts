// The stack output `backendSource` (with nodeDiscovery only; a listed stack's backends are its config):
// where the backends came from, so a reader of the stack, and the next preview's shrink guard, sees
// the selector, the nodes it matched and those the policy left out.
import type { AddressType, NodeDiscoverySettings, NodeSettings } from "../settings";
import type { LeftOutNode, NodeSelection } from "./select-nodes";

export interface BackendSource {
  readonly selector: string;
  readonly addressType: AddressType;
  /** The backends, sorted by name. */
  readonly nodes: NodeSettings[];
  /** Matching nodes the exclude policy left out, with the reason, sorted by name. */
  readonly leftOut: LeftOutNode[];
}

export function backendSource(discovery: NodeDiscoverySettings, selection: NodeSelection): BackendSource {
  return { selector: discovery.selector, addressType: discovery.addressType, nodes: selection.nodes, leftOut: selection.leftOut };
}
