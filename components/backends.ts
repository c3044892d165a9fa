import { hostPort } from "./haproxy/config";
import type { Settings } from "./settings";

/** Every node's NodePort per frontend, in node order: what each load balancer forwards to. */
export function backends(s: Settings): { http: string[]; https: string[] } {
  return {
    http: s.nodes.map((n) => hostPort(n.address, s.nodePorts.http)),
    https: s.nodes.map((n) => hostPort(n.address, s.nodePorts.https)),
  };
}
