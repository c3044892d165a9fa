import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { adoptionOptions, isAdopted } from "./adopt";
import { backends } from "./backends";
import { IngressController } from "./controller/ingress-controller";
import { namespaceManifest } from "./controller/manifests";
import { NodePortService } from "./controller/node-port-service";
import { ProxyProtocolConfig } from "./controller/proxy-protocol-config";
import { keepalivedHost, nonlocalBindFamilies } from "./keepalived/config";
import { KeepalivedLoadBalancer, NonlocalBind } from "./keepalived/keepalived-load-balancer";
import { readableHaproxyConfigs } from "./haproxy/readable";
import { HaproxyLoadBalancer, LoadBalancerSecrets } from "./load-balancer";
import type { Settings } from "./settings";
import { WeaveNoMasqLocal } from "./weave/weave-no-masq-local";

export interface SourceIpIngressArgs {
  /** Validated stack settings (see components/settings.ts). */
  readonly settings: Settings;
  /** Secrets from Pulumi secret config; they stay secret in state and never reach logs. */
  readonly secrets: LoadBalancerSecrets & { readonly vrrpPassword?: pulumi.Input<string> };
}

export interface LoadBalancerOutput {
  address: string;
  configPath: string;
  configSha256: string;
}

/** With `keepalived`: the floating addresses and, per LB host, its starting role and keepalived.conf hash. */
export interface KeepalivedOutput {
  virtualAddresses: string[];
  hosts: Record<string, { role: "MASTER" | "BACKUP"; priority: number; configPath: string; configSha256: string }>;
}

/**
 * Everything between a client and the ingress controller: the controller DaemonSet, its PROXY-protocol
 * ConfigMap, the NodePort Service (policy Local) and NetworkPolicy, the weave patch when the CNI is
 * weave, and the HAProxy config pushed to every load-balancer host.
 */
export class SourceIpIngress extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
  public readonly nodePorts: pulumi.Output<{ http: number; https: number }>;
  public readonly backends: pulumi.Output<{ http: string[]; https: string[] }>;
  public readonly loadBalancers: pulumi.Output<Record<string, LoadBalancerOutput>>;
  /**
   * Per LB host, its haproxy.cfg as pushed with secrets replaced by placeholders: `pulumi preview --diff`
   * shows a change of it line by line (the pushes' stdin is secret, so their diff shows no content).
   */
  public readonly haproxyConfigs: pulumi.Output<Record<string, string>>;
  /** Undefined without `keepalived`. */
  public readonly keepalived: pulumi.Output<KeepalivedOutput | undefined>;

  constructor(name: string, args: SourceIpIngressArgs, opts?: pulumi.ComponentResourceOptions) {
    // With `adopt`, objects made by hand are taken over in place (components/adopt.ts).
    super("ingress-haproxy:index:SourceIpIngress", name, {}, adoptionOptions(args.settings, opts));
    const s = args.settings;
    const { apiVersion: _a, kind: _k, ...nsArgs } = namespaceManifest(s);
    const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, nsArgs, { parent: this });
    const inNamespace = { parent: this, dependsOn: [namespace] };

    const config = new ProxyProtocolConfig(`${name}-config`, { settings: s }, inNamespace);
    // The controller reads its ConfigMap at start: create it first.
    const controller = new IngressController(`${name}-controller`, { settings: s }, { parent: this, dependsOn: [namespace, config] });
    // An adopted Service switches its selector to the new pods at once: wait until they are ready.
    const adoptsService = isAdopted(s, "Service", s.serviceName, s.namespace);
    const service = new NodePortService(`${name}-service`, { settings: s }, adoptsService ? { parent: this, dependsOn: [namespace, controller] } : inNamespace);
    const weave = s.cni === "weave" ? [new WeaveNoMasqLocal(`${name}-weave`, { settings: s }, { parent: this })] : [];

    // HAProxy binding a floating address needs ip_nonlocal_bind before its config arrives.
    const nonlocal = nonlocalBindFamilies(s).length
      ? s.loadBalancers.map((lb) => [new NonlocalBind(`${name}-lb-${lb.name}-nonlocal-bind`, { settings: s, loadBalancer: lb, sshPrivateKey: args.secrets.sshPrivateKey }, { parent: this })])
      : s.loadBalancers.map(() => []);
    // Switch the load balancers only once the new backends exist (and, under weave, keep source IPs).
    const lbs = s.loadBalancers.map(
      (lb, i) => new HaproxyLoadBalancer(`${name}-lb-${lb.name}`, { settings: s, loadBalancer: lb, secrets: args.secrets }, { parent: this, dependsOn: [controller, service, ...weave, ...nonlocal[i]] }),
    );
    // keepalived's health check needs HAProxy serving the new config: push keepalived.conf after it.
    const keepalived = s.keepalived
      ? s.loadBalancers.map(
          (lb, i) =>
            new KeepalivedLoadBalancer(
              `${name}-lb-${lb.name}-keepalived`,
              { settings: s, loadBalancer: lb, secrets: { sshPrivateKey: args.secrets.sshPrivateKey, vrrpPassword: args.secrets.vrrpPassword } },
              { parent: this, dependsOn: [lbs[i]] },
            ),
        )
      : [];

    this.namespace = pulumi.output(s.namespace);
    this.serviceName = pulumi.output(s.serviceName);
    this.nodePorts = service.nodePorts;
    this.backends = pulumi.output(backends(s));
    this.loadBalancers = pulumi
      .all(lbs.map((lb) => lb.configSha256))
      .apply((hashes) =>
        Object.fromEntries(s.loadBalancers.map((lb, i) => [lb.name, { address: lb.address, configPath: lb.configPath, configSha256: hashes[i] }])),
      );
    this.haproxyConfigs = pulumi.output(readableHaproxyConfigs(s));
    const k = s.keepalived;
    this.keepalived = k
      ? pulumi.all(keepalived.map((h) => h.configSha256)).apply((hashes) => ({
          virtualAddresses: k.virtualAddresses,
          hosts: Object.fromEntries(
            s.loadBalancers.map((lb, i) => {
              const host = keepalivedHost(s, lb);
              return [lb.name, { role: host.role, priority: host.priority, configPath: host.configPath, configSha256: hashes[i] }];
            }),
          ),
        }))
      : pulumi.output(undefined);
    this.registerOutputs({
      namespace: this.namespace,
      serviceName: this.serviceName,
      nodePorts: this.nodePorts,
      backends: this.backends,
      loadBalancers: this.loadBalancers,
      haproxyConfigs: this.haproxyConfigs,
      keepalived: this.keepalived,
    });
  }
}
