// The real-controller tier's world: the local control plane (scripts/cluster, kwok nodes node-1..3 at
// the node hosts' addresses), the netns hosts (scripts/netns/hosts.sh: clients, LBs with sshd +
// HAProxy, node namespaces), and on each node namespace the real kube-proxy and the pods' real
// processes (kubelet-standin.ts). The program itself comes later, from a real `pulumi up`.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Cluster, startCluster } from "../adopt-fixtures";
import type { HostsContract } from "../../netns/contract";
import { hostsDown, hostsUp } from "../../netns/harness";
import { clusterApi, type Api } from "./api";
import { ECHO_IMAGE, ECHO_NAMESPACE } from "./echo-app";
import { startApiRelay, type ApiRelay } from "./api-relay";
import { startKubeProxy } from "./kube-proxy";
import { KubeletStandin, type ImageRuntime } from "./kubelet-standin";
import { upstreamKwokStages, writeKwokStages } from "../kwok-stages";
import type { NodeNet } from "./pod-sandbox-standin";
import { inNs, type Proc } from "./processes";

export const ROOT = join(__dirname, "../../..");
export const STATE_DIR = "/tmp/ihp-real-controller";
const CLUSTER_DIR = "/tmp/ihp-cluster-real-controller";
const PORT_BASE = 28100;
/** Namespaces whose pods really run (everything else stays kwok's). */
export const REAL_NAMESPACES = ["nginx-ingress", ECHO_NAMESPACE];
/** Upstream's image of the controller release the toolchain builds (NGINX_INGRESS_VERSION). */
export const CONTROLLER_IMAGE = "nginx/nginx-ingress:5.5.4";

export interface World {
  readonly cluster: Cluster;
  readonly api: Api;
  readonly hosts: HostsContract;
  readonly nodes: NodeNet[];
  readonly kubelet: KubeletStandin;
  readonly kubeProxies: Proc[];
  readonly relay: ApiRelay;
  readonly nodeRelays: Proc[];
  readonly podCidr: string;
  /** The toolchain's folders of the real binaries. */
  readonly bins: { nginxIngress: string; kubeProxy: string };
  readonly log: string[];
  down(keep: boolean): Promise<void>;
}

const toolchain = (script: string): string => execFileSync("bash", ["-c", `source scripts/toolchain/lib.sh && ${script}`], { cwd: ROOT, encoding: "utf8" }).trim();
const clusterVar = (name: string): string => execFileSync("bash", ["-c", `source scripts/cluster/lib.sh && echo "$${name}"`], { cwd: ROOT, encoding: "utf8" }).trim();

/** Fails (never skips) with what to run when the tier cannot run here. */
export function preflight(): { nginxIngress: string; kubeProxy: string } {
  if (process.getuid?.() !== 0) throw new Error("the real-controller tier must run as root (network namespaces, iptables)");
  const nginxIngress = toolchain("dir_of nginx-ingress");
  const kubeProxy = toolchain("dir_of kube-proxy");
  for (const [what, path] of [
    ["nginx-ingress", join(nginxIngress, "bin/nginx-ingress")],
    ["kube-proxy", join(kubeProxy, "bin/kube-proxy")],
  ])
    if (!existsSync(path)) throw new Error(`${path} is missing: run scripts/toolchain/build.sh ${what}`);
  for (const mod of ["ngx_http_js_module.so", "ngx_stream_module.so"])
    if (!existsSync(join("/usr/lib/nginx/modules", mod))) throw new Error(`Debian's nginx lacks ${mod}: run scripts/install-test-deps.sh (libnginx-mod-http-js, libnginx-mod-stream)`);
  for (const tool of ["socat", "setpriv", "unshare", "curl", "iptables"])
    if (!toolchain(`command -v ${tool} || true`)) throw new Error(`${tool} is missing: run scripts/install-test-deps.sh`);
  return { nginxIngress, kubeProxy };
}

export async function worldUp(): Promise<World> {
  const bins = preflight();
  const log: string[] = [];
  const say = (l: string) => log.push(`${new Date().toISOString()} ${l}`);
  rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });

  // kwok leaves the real pods unready until their readiness probe passes.
  const stages = join(STATE_DIR, "kwok-stages.yaml");
  writeKwokStages(upstreamKwokStages(), stages, { unreadyPodNamespaces: REAL_NAMESPACES });
  const cluster = startCluster(CLUSTER_DIR, PORT_BASE, { fresh: true, kwokStages: stages });
  // Each synchronous step blocks the test worker; let vitest's own RPC answers through in between
  // (a worker blocked for over 60 s fails the run with "Timeout calling onTaskUpdate").
  await new Promise((r) => setImmediate(r));
  const api = clusterApi(CLUSTER_DIR, cluster.apiPort);
  const podCidr = clusterVar("POD_CIDR");

  const hosts = hostsUp();
  await new Promise((r) => setImmediate(r));
  const nodes: NodeNet[] = hosts.nodes.map((n) => ({ name: n.name, netns: n.namespace, address: n.address }));
  for (const n of hosts.nodes) {
    // The node namespaces come with the netns tier's imitation of the controller (nginx on the NodePorts)
    // and of the NetworkPolicy (iptables): neither may answer in this tier.
    const pid = Number(readFileSync(n.nginxPidFile, "utf8").trim());
    process.kill(pid, "SIGQUIT");
    await until(`imitation nginx on ${n.name} gone`, async () => !existsSync(`/proc/${pid}`), 10_000);
    inNs(n.namespace, "iptables", "-F");
    inNs(n.namespace, "iptables", "-X");
  }

  const relay = startApiRelay(STATE_DIR, cluster.apiPort);
  const nodeRelays = nodes.map((n) => relay.into(n.netns, STATE_DIR));
  const kubeProxies = nodes.map((n) => startKubeProxy(n, { binary: join(bins.kubeProxy, "bin/kube-proxy"), clusterDir: CLUSTER_DIR, podCidr, stateDir: STATE_DIR }));

  const templates = join(bins.nginxIngress, "share/templates");
  const images: Record<string, ImageRuntime> = {
    // The image runs /nginx-ingress as uid 101 with the templates in its working directory.
    [CONTROLLER_IMAGE]: { command: join(bins.nginxIngress, "bin/nginx-ingress"), cwd: templates, uid: 101, nginxDirs: true },
    [ECHO_IMAGE]: { command: process.execPath, prefixArgs: [join(__dirname, "echo-server.mjs")], cwd: __dirname, uid: 65534, nginxDirs: false },
  };
  const kubelet = new KubeletStandin({ api, relay, nodes, namespaces: REAL_NAMESPACES, images, stateDir: STATE_DIR, caCert: join(CLUSTER_DIR, "pki/ca.crt"), log: say });
  kubelet.start();

  return {
    cluster,
    api,
    hosts,
    nodes,
    kubelet,
    kubeProxies,
    relay,
    nodeRelays,
    podCidr,
    bins,
    log,
    async down(keep) {
      await kubelet.stop();
      for (const p of [...kubeProxies, ...nodeRelays, relay.root]) await p.stop();
      if (keep) return;
      hostsDown();
      cluster.down();
    },
  };
}

/** Polls `probe` until it returns something truthy; throws after `timeoutMs` naming what it waited for. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
