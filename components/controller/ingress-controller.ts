import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../settings";
import { createObject, createObjects } from "../k8s-objects";
import { daemonSetManifest, ingressClassManifest, rbacManifests } from "./manifests";

export interface IngressControllerArgs {
  /** Validated stack settings (see components/settings.ts). */
  readonly settings: Settings;
}

/** The nginx ingress controller as a DaemonSet (one pod per node), with its RBAC and IngressClass. */
export class IngressController extends pulumi.ComponentResource {
  public readonly daemonSetName: pulumi.Output<string>;
  public readonly ingressClassName: pulumi.Output<string>;

  constructor(name: string, args: IngressControllerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ingress-haproxy:controller:IngressController", name, {}, opts);
    const access = createObjects(name, rbacManifests(args.settings), { parent: this });
    const ingressClass = createObject(name, ingressClassManifest(args.settings), { parent: this });
    // F5's controller exits at start when its IngressClass is missing: create the class first.
    const daemonSet = createObject(name, daemonSetManifest(args.settings), { parent: this, dependsOn: [...access, ingressClass] });
    this.daemonSetName = (daemonSet as unknown as { metadata: pulumi.Output<{ name: string }> }).metadata.name;
    this.ingressClassName = (ingressClass as unknown as { metadata: pulumi.Output<{ name: string }> }).metadata.name;
    this.registerOutputs({ daemonSetName: this.daemonSetName, ingressClassName: this.ingressClassName });
  }
}
