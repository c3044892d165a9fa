import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { sha256 } from "../controller/manifests";
import { LoadBalancerHostArgs, remoteFilePush, sshConnection } from "../remote-push";
import type { LoadBalancerSettings, Settings } from "../settings";
import {
  keepalivedHost,
  keepalivedPushCommand,
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
 * Renders keepalived.conf for one load-balancer host and pushes it with the same validate / lock /
 * backup / swap / reload / verify / roll-back script as haproxy.cfg (`keepalived -t`, then keepalived
 * must still be running with its VRRP child). Outputs the host's starting role and the config's sha256.
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
    this.configSha256 = pulumi.unsecret(config.apply(sha256));
    this.role = pulumi.output(host.role);
    this.priority = pulumi.output(host.priority);

    remoteFilePush(
      `${name}-push`,
      { loadBalancer: lb, sshPrivateKey: secrets.sshPrivateKey, pushCommand: keepalivedPushCommand(s, lb), deleteCommand: keepalivedRestoreCommand(s, lb), content: config },
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
