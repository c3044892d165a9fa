import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../settings";
import { weavePatchManifest } from "./patch";

export interface WeaveNoMasqLocalArgs {
  /** Validated stack settings (see components/settings.ts). */
  readonly settings: Settings;
}

/**
 * Sets NO_MASQ_LOCAL=1 on weave-net's `weave` container so weave does not SNAT traffic to
 * externalTrafficPolicy Local services. Destroying it removes that variable and nothing else.
 */
export class WeaveNoMasqLocal extends pulumi.ComponentResource {
  constructor(name: string, args: WeaveNoMasqLocalArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ingress-haproxy:weave:WeaveNoMasqLocal", name, {}, opts);
    const { apiVersion: _a, kind: _k, ...patch } = weavePatchManifest(args.settings);
    const { daemonSetName, containerName } = args.settings.weave;
    // The provider diffs a patch against the live object pruned to the patch's shape by list index,
    // so weave's own env[0] (HOSTNAME) would be compared with NO_MASQ_LOCAL and every preview would
    // show a change. The containers list holds only constants, so its diff is ignored; the one
    // variable in it, the container name, is part of the resource name (a change replaces the patch).
    new k8s.apps.v1.DaemonSetPatch(`${name}-${daemonSetName}-${containerName}`, patch as k8s.apps.v1.DaemonSetPatchArgs, {
      parent: this,
      ignoreChanges: ["spec.template.spec.containers"],
    });
    this.registerOutputs({});
  }
}
