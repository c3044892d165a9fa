// Stack configs with N nodes, for the scale figures: the committed stack file with its node list
// replaced. Nodes 1..240 get IPv4 documentation addresses (203.0.113.10+), the rest IPv6 (2001:db8:1::/64).
import { stackRaw } from "./configs";

export function nodeAddress(i: number): string {
  return i < 240 ? `203.0.113.${10 + i}` : `2001:db8:1::${(i + 1).toString(16)}`;
}

export function scaledRaw(stack: string, n: number): Record<string, unknown> {
  const raw = stackRaw(stack);
  raw.nodes = Array.from({ length: n }, (_, i) => ({ name: `node-${i + 1}`, address: nodeAddress(i) }));
  return raw;
}
