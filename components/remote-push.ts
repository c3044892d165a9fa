// The one way this program runs something on a load-balancer host: SSH with the pinned host key,
// secret key, and (for file pushes) the safe push script fed the file on stdin.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { RemoteInvocation } from "./haproxy/push-script";
import type { LoadBalancerSettings, Settings } from "./settings";

/** Arguments of a component that manages one load-balancer host. */
export interface LoadBalancerHostArgs<Secrets extends { readonly sshPrivateKey: pulumi.Input<string> }> {
  /** Validated stack settings (see components/settings.ts). */
  readonly settings: Settings;
  /** The host this component pushes to. */
  readonly loadBalancer: LoadBalancerSettings;
  /** Secrets from Pulumi secret config; they stay secret in state and never reach logs. */
  readonly secrets: Secrets;
}

/** SSH to `lb` with its pinned host key; a few short dial attempts so an unreachable host fails fast. */
export function sshConnection(lb: LoadBalancerSettings, sshPrivateKey: pulumi.Input<string>): command.types.input.remote.ConnectionArgs {
  return {
    host: lb.address,
    port: lb.sshPort,
    user: lb.user,
    privateKey: pulumi.secret(sshPrivateKey),
    hostKey: lb.hostKey,
    dialErrorLimit: 3,
    perDialTimeout: 10,
  };
}

export interface RemoteFilePushArgs {
  readonly loadBalancer: LoadBalancerSettings;
  readonly sshPrivateKey: pulumi.Input<string>;
  /** The push (create/update): command line and stdin (digest key line + file, secret). */
  readonly push: pulumi.Input<RemoteInvocation>;
  /** What `pulumi destroy` runs (restore or leave); it gets the same stdin. */
  readonly deleteCommand: pulumi.Input<string>;
}

/**
 * A remote.Command that pushes one file with push.sh. A content change is an in-place update (the
 * push runs again); never a replacement, whose delete (restore) would run after the new push. The
 * command lines carry only parameters and digests (keyed for secret files): they stay readable in
 * diffs; stdin and the outputs are secret.
 */
export function remoteFilePush(name: string, args: RemoteFilePushArgs, parent: pulumi.Resource): command.remote.Command {
  const push = pulumi.output(args.push);
  return new command.remote.Command(
    name,
    {
      connection: sshConnection(args.loadBalancer, args.sshPrivateKey),
      create: pulumi.unsecret(push.command),
      delete: pulumi.unsecret(pulumi.output(args.deleteCommand)),
      stdin: pulumi.secret(push.stdin),
      // The push script prints status lines and digests only, never the file.
      logging: "stdoutAndStderr",
      // Else the provider sends the last (secret) stdout as PULUMI_COMMAND_STDOUT on every update and
      // delete, and warns each time an sshd without AcceptEnv refuses it.
      addPreviousOutputInEnv: false,
    },
    // Should a replacement ever happen, restore first and push after, never the other way round.
    { parent, additionalSecretOutputs: ["stdout", "stderr"], deleteBeforeReplace: true },
  );
}
