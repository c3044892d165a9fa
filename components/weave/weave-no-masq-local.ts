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
    new k8s.apps.v1.DaemonSetPatch(`${name}-weave-net`, patch as k8s.apps.v1.DaemonSetPatchArgs, { parent: this });
    this.registerOutputs({});
  }
}
