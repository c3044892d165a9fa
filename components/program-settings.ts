// The settings of the stack being run, as the program needs them before it creates anything: the
// stack config validated, and with nodeDiscovery the cluster's Nodes listed through the Kubernetes
// provider's own kubeconfig/context and the change checked against the last deployed backends.
import * as pulumi from "@pulumi/pulumi";
import { BackendSource } from "./discovery/backend-source";
import { deployedBackends } from "./discovery/deployed-backends";
import { clusterAccessFromConfig, listClusterNodes, loadKubeConfig } from "./discovery/list-nodes";
import { DiscoveryError } from "./discovery/select-nodes";
import { shrinkProblems } from "./discovery/shrink-guard";
import type { Settings } from "./settings";
import { resolveStackSettings } from "./stack-config";

export async function resolveProgramSettings(): Promise<{ settings: Settings; source?: BackendSource }> {
  const runtime = pulumi.runtime as typeof pulumi.runtime & { isConfigSecret?: (key: string) => boolean };
  const all = pulumi.runtime.allConfig();
  const resolved = await resolveStackSettings(
    all,
    (key) => runtime.isConfigSecret?.(key) ?? true,
    async () => listClusterNodes(loadKubeConfig(clusterAccessFromConfig(all))),
    new Date(),
  );
  const discovery = resolved.settings.nodeDiscovery;
  if (discovery) {
    const problems = shrinkProblems(await deployedBackends(), resolved.settings.nodes, discovery.maxRemovedShare);
    if (problems.length) throw new DiscoveryError(problems);
  }
  return resolved;
}
