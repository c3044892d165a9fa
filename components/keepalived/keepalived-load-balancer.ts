import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { digestKey, exportedDigest } from "../haproxy/digest";
import { pushDigest, pushOwner, type PushInput } from "../haproxy/push-script";
import { LoadBalancerHostArgs, remoteFilePush, sshConnection } from "../remote-push";
import type { LoadBalancerSettings, Settings } from "../settings";
import {
  keepalivedHost,
  keepalivedPushCommand,
  keepalivedPushParams,
  keepalivedRestoreCommand,
  nonlocalBindCommand,
  nonlocalBindDeleteCommand,
  renderKeepalivedConfig,
  type VrrpRole,
} from "./config";

export interface KeepalivedSecrets {
  /** SSH private key for the load-balancer hosts (secret config `sshPrivateKey`). */
  readonly sshPrivateKey: pulumi.Input<string>;
  /** VRRP authentication secret (secret config `vrrpPassword`); required when the LBs are IPv4. */
  readonly vrrpPassword?: pulumi.Input<string>;
}

/** Settings must have a `keepalived` section. */
export type KeepalivedLoadBalancerArgs = LoadBalancerHostArgs<KeepalivedSecrets>;

/**
 * Renders keepalived.conf for one load-balancer host and pushes it with the same transactional push as
 * haproxy.cfg (`keepalived -t`; after the reload keepalived must have taken its reload_file and still
 * run its VRRP child). Outputs the host's starting role and the config's keyed digest (the file holds
 * the VRRP token).
 */
export class KeepalivedLoadBalancer extends pulumi.ComponentResource {
  public readonly role: pulumi.Output<VrrpRole>;
  public readonly priority: pulumi.Output<number>;
  public readonly configSha256: pulumi.Output<string>;

  constructor(name: string, args: KeepalivedLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ingress-haproxy:keepalived:KeepalivedLoadBalancer", name, {}, opts);
    const { settings: s, loadBalancer: lb, secrets } = args;
    const host = keepalivedHost(s, lb);
    // The file carries the token derived from vrrpPassword: it stays secret end to end.
    const config: pulumi.Output<string> = pulumi.secret(secrets.vrrpPassword ?? "").apply((vrrpPassword) => renderKeepalivedConfig(s, lb, { vrrpPassword }));
    const input = pulumi.all([config, pulumi.secret(secrets.sshPrivateKey)]).apply(([content, key]): PushInput => ({ content, digestKey: digestKey(key), owner: pushOwner(pulumi.getProject(), pulumi.getStack(), `${name}-push`) }));
    this.configSha256 = pulumi.unsecret(input.apply((i) => exportedDigest(pushDigest(keepalivedPushParams(s, lb), i))));
    this.role = pulumi.output(host.role);
    this.priority = pulumi.output(host.priority);

    remoteFilePush(
      `${name}-push`,
      {
        loadBalancer: lb,
        sshPrivateKey: secrets.sshPrivateKey,
        push: input.apply((i) => keepalivedPushCommand(s, lb, i)),
        deleteCommand: input.apply((i) => keepalivedRestoreCommand(s, lb, i).command),
      },
      this,
    );
    this.registerOutputs({ role: this.role, priority: this.priority, configSha256: this.configSha256 });
  }
}

export interface NonlocalBindArgs {
  readonly settings: Settings;
  readonly loadBalancer: LoadBalancerSettings;
  readonly sshPrivateKey: pulumi.Input<string>;
}

/**
 * ip_nonlocal_bind=1 (now and in sysctl.d) on one host, so HAProxy on a BACKUP can bind a floating
 * address it does not hold. Only when haproxy.bindAddresses lists floating addresses; the haproxy.cfg
 * push of the host depends on it.
 */
export class NonlocalBind extends pulumi.ComponentResource {
  constructor(name: string, args: NonlocalBindArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ingress-haproxy:keepalived:NonlocalBind", name, {}, opts);
    const { settings: s, loadBalancer: lb } = args;
    new command.remote.Command(
      `${name}-sysctl`,
      {
        connection: sshConnection(lb, args.sshPrivateKey),
        create: nonlocalBindCommand(s),
        delete: nonlocalBindDeleteCommand(s),
        logging: "stdoutAndStderr",
        addPreviousOutputInEnv: false, // as remote-push.ts: no warning from an sshd without AcceptEnv
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.registerOutputs({});
  }
}
