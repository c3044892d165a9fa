import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../settings";
import { createObject } from "../k8s-objects";
import { configMapManifest } from "./manifests";

export interface ProxyProtocolConfigArgs {
  /** Validated stack settings (see components/settings.ts). */
  readonly settings: Settings;
}

/**
 * The controller's `nginx-config` ConfigMap: PROXY protocol on, the client address taken from the PROXY
 * header, and only the load balancers trusted to send one.
 */
export class ProxyProtocolConfig extends pulumi.ComponentResource {
  public readonly data: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: ProxyProtocolConfigArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ingress-haproxy:controller:ProxyProtocolConfig", name, {}, opts);
    const configMap = createObject(name, configMapManifest(args.settings), { parent: this });
    this.data = (configMap as unknown as { data: pulumi.Output<Record<string, string>> }).data;
    this.registerOutputs({ data: this.data });
  }
}
