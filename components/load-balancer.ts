import * as pulumi from "@pulumi/pulumi";
import { sha256 } from "./controller/manifests";
import { renderHaproxyConfig } from "./haproxy/config";
import { pushCommand, restoreCommand } from "./haproxy/push-script";
import { LoadBalancerHostArgs, remoteFilePush } from "./remote-push";

export interface LoadBalancerSecrets {
  /** SSH private key for the load-balancer hosts (secret config `sshPrivateKey`). */
  readonly sshPrivateKey: pulumi.Input<string>;
  /** Stats page password (secret config `statsPassword`), only with haproxy.stats.enabled. */
  readonly statsPassword?: pulumi.Input<string>;
}

export type HaproxyLoadBalancerArgs = LoadBalancerHostArgs<LoadBalancerSecrets>;

/**
 * Renders haproxy.cfg for one load-balancer host and pushes it over SSH (pinned host key) with the
 * validate / lock / backup / swap / reload / verify / roll-back script. It changes only when the
 * rendered config changes; its output is the config's sha256, which the drift check compares.
 */
export class HaproxyLoadBalancer extends pulumi.ComponentResource {
  public readonly configSha256: pulumi.Output<string>;

  constructor(name: string, args: HaproxyLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ingress-haproxy:haproxy:HaproxyLoadBalancer", name, {}, opts);
    const { settings: s, loadBalancer: lb, secrets } = args;
    // With stats on, the config carries the stats credentials: it stays secret end to end.
    const config: pulumi.Output<string> = s.haproxy.stats.enabled
      ? pulumi.secret(secrets.statsPassword ?? "").apply((password) => renderHaproxyConfig(s, lb, { statsPassword: password }))
      : pulumi.output(renderHaproxyConfig(s, lb));
    this.configSha256 = pulumi.unsecret(config.apply(sha256));

    remoteFilePush(
      `${name}-push`,
      { loadBalancer: lb, sshPrivateKey: secrets.sshPrivateKey, pushCommand: pushCommand(s, lb), deleteCommand: restoreCommand(s, lb), content: config },
      this,
    );
    this.registerOutputs({ configSha256: this.configSha256 });
  }
}
