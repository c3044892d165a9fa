// The one way this program runs something on a load-balancer host: SSH with the pinned host key,
// secret key, and (for file pushes) the safe push script fed the file on stdin.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
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
  /** The push script command line (create/update); it reads the file from stdin. */
  readonly pushCommand: string;
  /** What `pulumi destroy` runs (restore or leave). */
  readonly deleteCommand: string;
  /** The file content. */
  readonly content: pulumi.Input<string>;
}

/**
 * A remote.Command that pushes one file. A content change is an in-place update (the push runs
 * again); never a replacement, whose delete (restore) would run after the new push.
 */
export function remoteFilePush(name: string, args: RemoteFilePushArgs, parent: pulumi.Resource): command.remote.Command {
  return new command.remote.Command(
    name,
    {
      connection: sshConnection(args.loadBalancer, args.sshPrivateKey),
      create: args.pushCommand,
      delete: args.deleteCommand,
      stdin: args.content,
      // The push script prints status lines and hashes only, never the file.
      logging: "stdoutAndStderr",
      // Else the provider sends the last (secret) stdout as PULUMI_COMMAND_STDOUT on every update and
      // delete, and warns each time an sshd without AcceptEnv refuses it.
      addPreviousOutputInEnv: false,
    },
    // Should a replacement ever happen, restore first and push after, never the other way round.
    { parent, additionalSecretOutputs: ["stdout", "stderr"], deleteBeforeReplace: true },
  );
}
