import { isIP } from "node:net";
import type { Settings } from "./settings";

/** `host:port`, bracketing IPv6 addresses as HAProxy and URLs expect. */
export function hostPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Every node's NodePort per frontend, in node order: what each load balancer forwards to. */
export function backends(s: Settings): { http: string[]; https: string[] } {
  return {
    http: s.nodes.map((n) => hostPort(n.address, s.nodePorts.http)),
    https: s.nodes.map((n) => hostPort(n.address, s.nodePorts.https)),
  };
}
