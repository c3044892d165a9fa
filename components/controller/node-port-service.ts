import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../settings";
import { createObject } from "../k8s-objects";
import { networkPolicyManifest, serviceManifest } from "./manifests";

export interface NodePortServiceArgs {
  /** Validated stack settings (see components/settings.ts). */
  readonly settings: Settings;
}

/**
 * The NodePort Service with externalTrafficPolicy Local, and (unless turned off) the NetworkPolicy that
 * lets only the load balancers reach the PROXY-protocol ports.
 */
export class NodePortService extends pulumi.ComponentResource {
  public readonly nodePorts: pulumi.Output<{ http: number; https: number }>;

  constructor(name: string, args: NodePortServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ingress-haproxy:controller:NodePortService", name, {}, opts);
    const s = args.settings;
    createObject(name, serviceManifest(s), { parent: this });
    if (s.networkPolicy.enabled) createObject(name, networkPolicyManifest(s), { parent: this });
    this.nodePorts = pulumi.output({ http: s.nodePorts.http, https: s.nodePorts.https });
    this.registerOutputs({ nodePorts: this.nodePorts });
  }
}
