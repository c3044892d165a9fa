// Reads this stack's config, validates all of it before anything is created (with nodeDiscovery: lists
// the cluster's Nodes and checks the change against the last deployed backends), builds the top
// component and returns what platform teams read back: NodePorts, backends, where the backends came
// from and what each LB got. An async program: Pulumi awaits it and takes its result as the outputs.
import * as pulumi from "@pulumi/pulumi";
import { deployedBackends } from "./components/discovery/deployed-backends";
import { clusterAccessFromConfig, listClusterNodes, loadKubeConfig } from "./components/discovery/list-nodes";
import { shrinkProblems } from "./components/discovery/shrink-guard";
import { DiscoveryError } from "./components/discovery/select-nodes";
import { SourceIpIngress } from "./components/source-ip-ingress";
import { resolveStackSettings } from "./components/stack-config";

const runtime = pulumi.runtime as typeof pulumi.runtime & { isConfigSecret?: (key: string) => boolean };

export = async () => {
  const all = pulumi.runtime.allConfig();
  const { settings, source } = await resolveStackSettings(
    all,
    (key) => runtime.isConfigSecret?.(key) ?? true,
    async () => listClusterNodes(loadKubeConfig(clusterAccessFromConfig(all))),
    new Date(),
  );
  if (settings.nodeDiscovery) {
    const problems = shrinkProblems(await deployedBackends("ingress-deployed-backends"), settings.nodes, settings.nodeDiscovery.maxRemovedShare);
    if (problems.length) throw new DiscoveryError(problems);
  }

  const config = new pulumi.Config();
  const ingress = new SourceIpIngress("ingress", {
    settings,
    secrets: {
      sshPrivateKey: config.requireSecret("sshPrivateKey"),
      statsPassword: settings.haproxy.stats.enabled ? config.requireSecret("statsPassword") : undefined,
      // Validated: present whenever keepalived runs between IPv4 load balancers (VRRPv2 authentication).
      vrrpPassword: settings.keepalived ? config.getSecret("vrrpPassword") : undefined,
    },
  });

  return {
    namespace: ingress.namespace,
    serviceName: ingress.serviceName,
    nodePorts: ingress.nodePorts,
    backends: ingress.backends,
    // Only with nodeDiscovery: the selector, the nodes matched and those left out.
    ...(source ? { backendSource: source } : {}),
    loadBalancers: ingress.loadBalancers,
    // Each LB's haproxy.cfg without secrets: the lines a reviewer reads in `pulumi preview --diff`.
    haproxyConfigs: ingress.haproxyConfigs,
    // null, not undefined, without keepalived: the engine warns on every run about an undefined output.
    keepalived: ingress.keepalived.apply((k) => k ?? null),
  };
};
