// The backends this stack last deployed, read from its own outputs with the engine's built-in
// `pulumi:pulumi:readStackOutputs` function (what a StackReference reads, without the resource): the
// engine serves the outputs of the last completed update (at preview and during `up`, whose new outputs
// are written only at its end); before the first deploy there are none. Being an invoke, it adds no
// step to the plan, so a preview shows no copy of the previous outputs (a StackReference to the stack
// itself showed its previous deploy's diff nested in every preview).
import * as pulumi from "@pulumi/pulumi";
import { DeployedBackend, deployedBackendsFromOutputs } from "./shrink-guard";

export const READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs";

export async function deployedBackends(): Promise<DeployedBackend[] | undefined> {
  const name = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
  const read: { outputs?: Record<string, unknown> } = await pulumi.runtime.invoke(READ_STACK_OUTPUTS, { name });
  return deployedBackendsFromOutputs(read.outputs?.backendSource, read.outputs?.backends);
}
