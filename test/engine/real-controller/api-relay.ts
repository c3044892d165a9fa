// The network path from a node or pod namespace to the API server. The local API server listens on
// the root namespace's loopback only (scripts/cluster), which no other namespace can reach; a relay
// (socat) carries the bytes over a Unix socket, which every namespace sees in the file system. Inside a
// namespace the API server is then at 127.0.0.1:API_RELAY_PORT, a name its certificate already holds,
// so TLS is verified end to end against the cluster's CA and nothing is terminated in between.
import { join } from "node:path";
import { API_RELAY_PORT } from "./pod-sandbox-standin";
import { startProc, type Proc } from "./processes";

export interface ApiRelay {
  /** The root side: Unix socket -> 127.0.0.1:apiPort. */
  readonly root: Proc;
  readonly socket: string;
  /** Starts the namespace side: 127.0.0.1:API_RELAY_PORT in `netns` -> the socket. */
  into(netns: string, logDir: string): Proc;
}

export function startApiRelay(stateDir: string, apiPort: number): ApiRelay {
  const socket = join(stateDir, "api.sock");
  const root = startProc("api-relay", "socat", [`UNIX-LISTEN:${socket},fork,unlink-early,mode=600`, `TCP:127.0.0.1:${apiPort}`], join(stateDir, "api-relay.log"));
  return {
    root,
    socket,
    into: (netns, logDir) =>
      startProc(`api-relay-${netns}`, "ip", ["netns", "exec", netns, "socat", `TCP-LISTEN:${API_RELAY_PORT},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${socket}`], join(logDir, `api-relay-${netns}.log`)),
  };
}
