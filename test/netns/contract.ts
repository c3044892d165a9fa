// The contract file scripts/netns/hosts.sh writes (default /run/ihp-netns/hosts.json). Issue 5 (a real
// `pulumi up` against these hosts) and the netns test tier read it; keep it backwards compatible.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { LbPaths } from "./stack";
import type { Role } from "./topology";

export interface HostEntry {
  readonly name: string;
  readonly role: Role;
  /** `ip netns exec <namespace> ...` runs a command on the host. */
  readonly namespace: string;
  readonly address: string;
  readonly prefix: number;
  /** The host's interface (inside its namespace) and its peer port on the switch bridge. */
  readonly interface: "eth0";
  readonly switchPort: string;
}

/** An LB host: its files are those of `LbPaths` (stack.ts; `masterSocket` is HAProxy's master CLI). */
export interface LoadBalancerEntry extends HostEntry, Pick<LbPaths, "hostKeyPath" | "configPath" | "pidFile" | "reloadCommand" | "masterSocket" | "sshdConfig" | "sshdPidFile" | "sshdLog"> {
  readonly role: "lb";
  readonly sshPort: number;
  readonly user: string;
  /** Pinned host key, 'ssh-ed25519 AAAA...' (no comment): loadBalancers[].hostKey / connection.hostKey. */
  readonly hostKey: string;
}

export interface NodeEntry extends HostEntry {
  readonly role: "node";
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly healthPath: string;
  readonly nginxConf: string;
  readonly nginxPidFile: string;
  /** One JSON object per line (see AccessLogEntry in nginx-config.ts). */
  readonly accessLog: string;
  readonly healthLog: string;
  readonly errorLog: string;
  readonly firewallRules: string;
}

export interface HostsContract {
  readonly version: 1;
  readonly stateDir: string;
  readonly switchNamespace: string;
  readonly bridge: string;
  /** The root namespace's own link to the switch (only the LB range is routed through it). */
  readonly root: { readonly interface: string; readonly address: string; readonly prefix: number };
  readonly ssh: {
    readonly user: string;
    readonly privateKeyPath: string;
    readonly publicKeyPath: string;
    /** known_hosts pinning every LB's host key by address. */
    readonly knownHostsPath: string;
  };
  readonly tls: { readonly certPath: string; readonly keyPath: string; readonly serverName: string };
  readonly hosts: Record<string, HostEntry>;
  readonly clients: HostEntry[];
  readonly loadBalancers: LoadBalancerEntry[];
  readonly nodes: NodeEntry[];
  /** Raw stack config for these hosts (keys without the `ingress-haproxy:` prefix); secret sshPrivateKey = ssh.privateKeyPath. */
  readonly stackConfig: Record<string, unknown>;
}

export const contractPath = (dir: string): string => join(dir, "hosts.json");

export function readContract(dir: string): HostsContract {
  return JSON.parse(readFileSync(contractPath(dir), "utf8")) as HostsContract;
}
