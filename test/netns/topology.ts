// The fixed topology of the network-namespace test hosts. scripts/netns/hosts.sh builds exactly this
// (it reads `npx tsx test/netns/render.ts topology`), and test/netns/render.ts writes the contract
// file (hosts.json) from it. Only documentation ranges are used (RFC 5737).
export const NS_PREFIX = "ihp-";
export const SWITCH_NAMESPACE = `${NS_PREFIX}sw`;
export const BRIDGE = "br0";
/** The root namespace's link to the switch: lets the Pulumi engine (root namespace) reach the LBs' sshd. */
export const ROOT_LINK = { interface: "ihp-root", switchPort: "p-root", address: "198.51.100.1", prefix: 24, routes: [] as string[] };
export const RANGES = { nodes: "192.0.2.0/24", loadBalancers: "198.51.100.0/24", clients: "203.0.113.0/24" } as const;

export type Role = "client" | "lb" | "node";
export interface HostSpec {
  readonly name: string;
  readonly role: Role;
  readonly address: string;
  readonly prefix: 24;
}

export const HOSTS: readonly HostSpec[] = [
  { name: "client-1", role: "client", address: "203.0.113.10", prefix: 24 },
  { name: "client-2", role: "client", address: "203.0.113.11", prefix: 24 },
  { name: "lb-1", role: "lb", address: "198.51.100.10", prefix: 24 },
  { name: "lb-2", role: "lb", address: "198.51.100.11", prefix: 24 },
  { name: "node-1", role: "node", address: "192.0.2.11", prefix: 24 },
  { name: "node-2", role: "node", address: "192.0.2.12", prefix: 24 },
  { name: "node-3", role: "node", address: "192.0.2.13", prefix: 24 },
];

export const namespaceOf = (host: string): string => `${NS_PREFIX}${host}`;
/** The switch-side veth of a host (<= 15 characters). */
export const switchPortOf = (host: string): string => `p-${host}`;
/** Every host has all three ranges on-link (one L2 segment). */
export const onLinkRoutes = (h: HostSpec): string[] => {
  const own = `${h.address.split(".").slice(0, 3).join(".")}.0/24`;
  return Object.values(RANGES).filter((r) => r !== own);
};
