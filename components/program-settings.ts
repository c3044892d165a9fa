// The settings of the stack being run, as the program needs them before it creates anything: the
// stack config validated, and with nodeDiscovery the cluster's Nodes listed through the Kubernetes
// provider's own kubeconfig/context and the change checked against the last deployed backends.
import * as pulumi from "@pulumi/pulumi";
import { BackendSource } from "./discovery/backend-source";
import { deployedBackends } from "./discovery/deployed-backends";
import { clusterAccessFromConfig, listClusterNodes, loadKubeConfig } from "./discovery/list-nodes";
import { DiscoveryError } from "./discovery/select-nodes";
import { shrinkProblems } from "./discovery/shrink-guard";
import { type Settings, SettingsError } from "./settings";
import { resolveStackSettings } from "./stack-config";

export async function resolveProgramSettings(): Promise<{ settings: Settings; source?: BackendSource }> {
  try {
    return await resolveAndGuard();
  } catch (e) {
    throw asRunError(e);
  }
}

async function resolveAndGuard(): Promise<{ settings: Settings; source?: BackendSource }> {
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

/**
 * A settings or discovery problem reaches Pulumi as a RunError, which it prints as the message alone
 * (every problem with its fix), and without stack frames. Why: Pulumi also passes every program error
 * to `util.inspect(err, { colors: true })` (for its trace), and Node (20.20 and 22.23.3, the newest 22
 * on npm, measured) loops in that call on a frame under `node_modules/@pulumi/resource.ts` (where the
 * SDK's source maps place every program error's caller) until a RangeError, about 80 s and 3 GB later:
 * a bad setting took 2-3 minutes to be reported. Upstream: nodejs/node#64011, fixed by #64022 in
 * releases after these. The error keeps its name and problems for the tests.
 */
export function asRunError(e: unknown): unknown {
  if (!(e instanceof SettingsError)) return e;
  return Object.assign(new pulumi.RunError(e.message), { name: e.name, problems: e.problems, stack: `${e.name}: ${e.message}` });
}
