// Reads this stack's config and validates all of it before anything is created (with nodeDiscovery:
// lists the cluster's Nodes and checks the change against the last deployed backends), builds the top
// component and returns what platform teams read back: NodePorts, backends, where the backends came
// from and what each LB got. An async program: Pulumi awaits it and takes its result as the outputs.
import * as pulumi from "@pulumi/pulumi";
import { resolveProgramSettings } from "./components/program-settings";
import { SourceIpIngress } from "./components/source-ip-ingress";

export = async () => {
  const { settings, source } = await resolveProgramSettings();
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
