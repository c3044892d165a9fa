// STAND-IN for a container runtime + CNI plugin (what kubelet would ask containerd and the CNI for):
// a kwok pod gets a network namespace at the address the API server gave it, plugged into its node's
// namespace with a routed veth (Calico-style: the pod's default route points at a link-local gateway
// that is the node-side veth's MAC, a /32 route per pod on its node and via that node's address on
// the others), and its process runs in a private mount namespace
// so each pod has its own /etc/nginx, /var/lib/nginx, /var/log/nginx and /run (service-account token).
// The processes themselves are the real binaries (see kubelet-standin.ts for which).
import { chownSync, closeSync, copyFileSync, mkdirSync, openSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inNs, sh, startProc, type Proc } from "./processes";

/** Gateway the pod's default route points at: a permanent neighbour entry for the node-side veth. */
const GATEWAY = "169.254.1.1";
/** Inside every pod and node namespace, the API server is reached at 127.0.0.1:API_RELAY_PORT (api-relay.ts). */
export const API_RELAY_PORT = 6443;

export interface NodeNet {
  readonly name: string;
  readonly netns: string;
  readonly address: string;
}

export interface SandboxSpec {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly node: NodeNet;
  readonly otherNodes: readonly NodeNet[];
  /** Folder for this pod's files (created). */
  readonly dir: string;
}

export interface Sandbox extends SandboxSpec {
  readonly netns: string;
  readonly hostVeth: string;
  /** Writes the service-account files the process reads at /var/run/secrets/kubernetes.io/serviceaccount. */
  writeServiceAccount(token: string, caCert: string, ownerUid: number): void;
  /** Starts CMD in the pod: its network namespace, a private mount namespace with the pod's folders, as `uid`. */
  run(name: string, cmd: string, args: string[], opts: RunOptions): Proc;
  remove(): void;
}

export interface RunOptions {
  readonly env: Record<string, string>;
  readonly uid: number;
  readonly cwd: string;
  /** Bind the pod's own /etc/nginx, /var/lib/nginx, /var/log/nginx (for the controller). */
  readonly nginxDirs: boolean;
  readonly log: string;
}

const short = (uid: string) => uid.replace(/-/g, "").slice(0, 10);

export function createSandbox(spec: SandboxSpec): Sandbox {
  const netns = `ihp-pod-${short(spec.uid)}`;
  const hostVeth = `vp${short(spec.uid)}`;
  const { node } = spec;
  mkdirSync(spec.dir, { recursive: true });
  sh("ip", ["netns", "add", netns]);
  sh("ip", ["-n", netns, "link", "set", "lo", "up"]);
  sh("ip", ["-n", node.netns, "link", "add", hostVeth, "type", "veth", "peer", "name", "eth0", "netns", netns]);
  sh("ip", ["-n", node.netns, "link", "set", hostVeth, "up"]);
  inNs(node.netns, "sysctl", "-qw", "net.ipv4.ip_forward=1");
  const hostMac = JSON.parse(sh("ip", ["-j", "-n", node.netns, "link", "show", hostVeth]))[0].address as string;
  sh("ip", ["-n", node.netns, "route", "replace", `${spec.ip}/32`, "dev", hostVeth]);
  sh("ip", ["-n", netns, "addr", "add", `${spec.ip}/32`, "dev", "eth0"]);
  sh("ip", ["-n", netns, "link", "set", "eth0", "up"]);
  sh("ip", ["-n", netns, "route", "add", GATEWAY, "dev", "eth0", "scope", "link"]);
  sh("ip", ["-n", netns, "neigh", "add", GATEWAY, "lladdr", hostMac, "dev", "eth0", "nud", "permanent"]);
  sh("ip", ["-n", netns, "route", "add", "default", "via", GATEWAY, "dev", "eth0"]);
  // As in a pod with NET_BIND_SERVICE: the non-root controller's nginx binds 80 and 443.
  inNs(netns, "sysctl", "-qw", "net.ipv4.ip_unprivileged_port_start=0");
  for (const other of spec.otherNodes) sh("ip", ["-n", other.netns, "route", "replace", `${spec.ip}/32`, "via", node.address, "dev", "eth0"]);

  const run = join(spec.dir, "run");
  const saDir = join(run, "secrets/kubernetes.io/serviceaccount");
  const etcNginx = join(spec.dir, "etc-nginx");
  const varLib = join(spec.dir, "var-lib-nginx");
  const varLog = join(spec.dir, "var-log-nginx");

  return {
    ...spec,
    netns,
    hostVeth,
    writeServiceAccount(token, caCert, ownerUid) {
      mkdirSync(saDir, { recursive: true });
      writeFileSync(join(saDir, "token"), token, { mode: 0o600 });
      writeFileSync(join(saDir, "namespace"), spec.namespace);
      copyFileSync(caCert, join(saDir, "ca.crt"));
      for (const f of ["token", "namespace", "ca.crt"]) chownSync(join(saDir, f), ownerUid, 0);
    },
    run(name, cmd, args, opts) {
      mkdirSync(run, { recursive: true });
      const binds: [string, string][] = [[run, "/run"]];
      if (opts.nginxDirs) {
        // What the image holds: Debian's mime.types, the njs script its main template imports, the
        // folders the controller writes (common.sh in upstream's build/scripts), logs to stdout/stderr.
        for (const d of [etcNginx, join(etcNginx, "conf.d"), join(etcNginx, "secrets"), join(etcNginx, "stream-conf.d"), join(etcNginx, "njs"), varLib, varLog])
          mkdirSync(d, { recursive: true });
        copyFileSync("/etc/nginx/mime.types", join(etcNginx, "mime.types"));
        copyFileSync(join(opts.cwd, "../njs/apikey_auth.js"), join(etcNginx, "njs/apikey_auth.js"));
        for (const [f, to] of [["access.log", "/dev/stdout"], ["error.log", "/dev/stderr"]]) {
          rmSync(join(varLog, f), { force: true });
          symlinkSync(to, join(varLog, f));
        }
        sh("chown", ["-R", `${opts.uid}:0`, etcNginx, varLib, varLog, run]);
        binds.push([etcNginx, "/etc/nginx"], [varLib, "/var/lib/nginx"], [varLog, "/var/log/nginx"]);
      }
      // The container's stdout/stderr is this file; nginx (as uid) reopens it through /dev/stdout, which
      // needs write permission on the file itself (a runtime's pipe would need none).
      closeSync(openSync(opts.log, "a"));
      chownSync(opts.log, opts.uid, 0);
      const mounts = binds.map(([from, to]) => `mount --bind '${from}' '${to}'`).join(" && ");
      const envArgs = Object.entries(opts.env).map(([k, v]) => `${k}=${v}`);
      const script = `${mounts} && cd '${opts.cwd}' && exec setpriv --reuid ${opts.uid} --regid ${opts.uid} --clear-groups -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"`;
      return startProc(name, "ip", ["netns", "exec", netns, "unshare", "-m", "--propagation", "private", "--", "bash", "-c", script, "pod", ...envArgs, cmd, ...args], opts.log);
    },
    remove() {
      for (const other of spec.otherNodes) {
        try {
          sh("ip", ["-n", other.netns, "route", "del", `${spec.ip}/32`, "via", node.address]);
        } catch {
          /* the node namespace may already be gone */
        }
      }
      try {
        sh("ip", ["-n", node.netns, "link", "del", hostVeth]);
      } catch {
        /* gone with the pod namespace */
      }
      sh("ip", ["netns", "del", netns]);
    },
  };
}
