// The backends this stack last deployed, read from its own outputs through a StackReference to
// itself: the engine serves the outputs of the last completed update (at preview and during `up`,
// whose new outputs are written only at its end); before the first deploy there are none.
import * as pulumi from "@pulumi/pulumi";
import { DeployedBackend, deployedBackendsFromOutputs } from "./shrink-guard";

export async function deployedBackends(resourceName: string): Promise<DeployedBackend[] | undefined> {
  const self = new pulumi.StackReference(resourceName, { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
  const [source, backends] = await Promise.all([self.getOutputDetails("backendSource"), self.getOutputDetails("backends")]);
  return deployedBackendsFromOutputs(source.value ?? source.secretValue, backends.value ?? backends.secretValue);
}
