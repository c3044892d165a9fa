import * as pulumi from "@pulumi/pulumi";
import { renderHaproxyConfig } from "./haproxy/config";
import { digestKey, exportedDigest } from "./haproxy/digest";
import { haproxyPushParams, pushDigest, pushInvocation, pushOwner, restoreInvocation, type PushInput } from "./haproxy/push-script";
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
 * transactional push (components/haproxy/push.sh). It changes only when the rendered config changes;
 * its output is the config's digest (plain sha256, or keyed when the file holds the stats password),
 * which the drift check compares.
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
    const params = haproxyPushParams(s, lb);
    // Destroy restores only while the host still holds this resource's push (an LB rename is safe).
    const input = pulumi.all([config, pulumi.secret(secrets.sshPrivateKey)]).apply(([content, key]): PushInput => ({ content, digestKey: digestKey(key), owner: pushOwner(pulumi.getProject(), pulumi.getStack(), `${name}-push`) }));
    this.configSha256 = pulumi.unsecret(input.apply((i) => exportedDigest(pushDigest(params, i))));

    remoteFilePush(
      `${name}-push`,
      {
        loadBalancer: lb,
        sshPrivateKey: secrets.sshPrivateKey,
        push: input.apply((i) => pushInvocation(params, i, "ingress-haproxy-push")),
        deleteCommand: input.apply((i) => restoreInvocation(s, params, i, "ingress-haproxy-restore").command),
      },
      this,
    );
    this.registerOutputs({ configSha256: this.configSha256 });
  }
}
