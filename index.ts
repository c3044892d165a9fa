// Reads this stack's config, validates all of it before anything is created, builds the top
// component and exports what platform teams read back: NodePorts, backends and what each LB got.
import * as pulumi from "@pulumi/pulumi";
import { SourceIpIngress } from "./components/source-ip-ingress";
import { settingsFromStackConfig } from "./components/stack-config";

const runtime = pulumi.runtime as typeof pulumi.runtime & { isConfigSecret?: (key: string) => boolean };
const settings = settingsFromStackConfig(pulumi.runtime.allConfig(), (key) => runtime.isConfigSecret?.(key) ?? true);

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

export const namespace = ingress.namespace;
export const serviceName = ingress.serviceName;
export const nodePorts = ingress.nodePorts;
export const backends = ingress.backends;
export const loadBalancers = ingress.loadBalancers;
// Each LB's haproxy.cfg without secrets: the lines a reviewer reads in `pulumi preview --diff`.
export const haproxyConfigs = ingress.haproxyConfigs;
// null, not undefined, without keepalived: the engine warns on every run about an undefined output.
export const keepalived = ingress.keepalived.apply((k) => k ?? null);
