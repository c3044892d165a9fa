// The seed's `kubectl patch ... containers/0/env/-` as a server-side-apply patch: matched by container
// name (not index), owning only the one env var, so `pulumi destroy` removes exactly that.
import type { Settings } from "../settings";
import type { K8sObject } from "../controller/manifests";

export const NO_MASQ_LOCAL = { name: "NO_MASQ_LOCAL", value: "1" } as const;

export function weavePatchManifest(s: Settings): K8sObject {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: {
      name: s.weave.daemonSetName,
      namespace: s.weave.namespace,
      // weave-net was applied by kubectl, which owns the env list; take over just our entry.
      annotations: { "pulumi.com/patchForce": "true" },
    },
    spec: { template: { spec: { containers: [{ name: s.weave.containerName, env: [{ ...NO_MASQ_LOCAL }] }] } } },
  };
}
