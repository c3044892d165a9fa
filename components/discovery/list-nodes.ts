// Lists the cluster's Nodes with the official client (@kubernetes/client-node), from the same cluster
// the Kubernetes provider deploys to: its `kubernetes:kubeconfig` (a path or the file's contents) when
// set, else the ambient kubeconfig (KUBECONFIG, then ~/.kube/config), with `kubernetes:context` and
// `kubernetes:cluster` overriding the current context and its cluster, as the provider resolves them.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { DiscoveryError, NodeObject } from "./select-nodes";

export interface ClusterAccess {
  /** `kubernetes:kubeconfig`: a kubeconfig path or its contents; unset: the ambient kubeconfig. */
  readonly kubeconfig?: string;
  /** `kubernetes:context`: the context to use instead of the kubeconfig's current one. */
  readonly context?: string;
  /** `kubernetes:cluster`: the cluster to use instead of the context's own. */
  readonly cluster?: string;
}

/** The Kubernetes provider's settings in a stack's config (Pulumi's flat `project:key` map). */
export function clusterAccessFromConfig(all: Record<string, string>): ClusterAccess {
  const get = (key: string) => (all[`kubernetes:${key}`] ? all[`kubernetes:${key}`] : undefined);
  return { kubeconfig: get("kubeconfig"), context: get("context"), cluster: get("cluster") };
}

function accessError(message: string): DiscoveryError {
  return new DiscoveryError([{ path: "ingress-haproxy:nodeDiscovery", message }]);
}

/** The kubeconfig the provider would use, with the overrides applied; a missing context or cluster is an error naming the setting. */
export function loadKubeConfig(access: ClusterAccess): KubeConfig {
  const kc = new KubeConfig();
  if (access.kubeconfig) {
    // As the provider does: `~` expanded, an existing path read, anything else taken as the contents.
    const path = access.kubeconfig === "~" ? homedir() : access.kubeconfig.startsWith("~/") ? join(homedir(), access.kubeconfig.slice(2)) : access.kubeconfig;
    if (existsSync(path)) kc.loadFromFile(path);
    else kc.loadFromString(access.kubeconfig);
  } else kc.loadFromDefault();
  if (access.context) {
    if (!kc.getContextObject(access.context))
      throw accessError(`the context ${JSON.stringify(access.context)} (kubernetes:context) is not in the kubeconfig; its contexts: ${kc.getContexts().map((c) => c.name).join(", ") || "none"}`);
    kc.setCurrentContext(access.context);
  }
  if (access.cluster) {
    if (!kc.getCluster(access.cluster)) throw accessError(`the cluster ${JSON.stringify(access.cluster)} (kubernetes:cluster) is not in the kubeconfig`);
    kc.contexts = kc.contexts.map((c) => (c.name === kc.currentContext ? { ...c, cluster: access.cluster! } : c));
  }
  return kc;
}

/** Where discovery looks, for messages (the server's URL and the context; never credentials). */
export function describeCluster(kc: KubeConfig): string {
  return `${kc.getCurrentCluster()?.server ?? "no cluster"} (context ${JSON.stringify(kc.getCurrentContext())})`;
}

/** Every Node of the cluster (the selector is applied by selectNodes, the same code as for a saved list). */
export async function listClusterNodes(kc: KubeConfig): Promise<NodeObject[]> {
  try {
    return (await kc.makeApiClient(CoreV1Api).listNode()).items;
  } catch (e) {
    const code = (e as { code?: number }).code;
    const reason = code ? `the API server answered HTTP ${code}${code === 403 ? " (the credentials may not list nodes: discovery needs `list` on `nodes`, cluster-wide)" : ""}` : (e as Error).message.split("\n")[0];
    throw accessError(`cannot list the Nodes of ${describeCluster(kc)}: ${reason}; check kubernetes:kubeconfig / KUBECONFIG and kubernetes:context`);
  }
}
