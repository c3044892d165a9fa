// Taking over a hand-made setup (the seed's `kubectl` objects) in place. The Kubernetes provider v4
// creates with server-side apply, which upserts: an object that already exists is patched, keeping its
// UID, clusterIP and NodePorts. Fields that kubectl set to other values conflict unless the object
// carries `pulumi.com/patchForce: "true"`; `retainOnDelete` keeps what the user had on `pulumi destroy`.
import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "./controller/manifests";
import { APP_NAME } from "./controller/manifests";
import type { Settings } from "./settings";

export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

type AdoptableKind = NonNullable<Settings["adopt"]>["objects"][number];

/** Pulumi type token of each adoptable kind, as the components register it. */
export const ADOPTABLE_TYPES: Record<AdoptableKind, string> = {
  Namespace: "kubernetes:core/v1:Namespace",
  ConfigMap: "kubernetes:core/v1:ConfigMap",
  Service: "kubernetes:core/v1:Service",
  ServiceAccount: "kubernetes:core/v1:ServiceAccount",
  IngressClass: "kubernetes:networking.k8s.io/v1:IngressClass",
};

export interface AdoptedObject {
  readonly kind: AdoptableKind;
  readonly name: string;
  /** Unset for cluster-scoped kinds. */
  readonly namespace?: string;
}

/** The objects `adopt` covers, named as the program names them; empty without `adopt`. */
export function adoptedObjects(s: Settings): AdoptedObject[] {
  const kinds = new Set(s.adopt?.objects ?? []);
  const all: AdoptedObject[] = [
    { kind: "Namespace", name: s.namespace },
    { kind: "ConfigMap", name: s.configMapName, namespace: s.namespace },
    { kind: "Service", name: s.serviceName, namespace: s.namespace },
    { kind: "ServiceAccount", name: APP_NAME, namespace: s.namespace },
    { kind: "IngressClass", name: s.controller.ingressClassName },
  ];
  return all.filter((o) => kinds.has(o.kind));
}

/** True if `adopt` covers the object `kind`/`name` (in `namespace` for namespaced kinds). */
export function isAdopted(s: Settings, kind: string, name: string | undefined, namespace: string | undefined): boolean {
  return adoptedObjects(s).some((o) => o.kind === kind && o.name === name && o.namespace === namespace);
}

/** The manifest with `pulumi.com/patchForce: "true"` added when `adopt` covers it; otherwise unchanged. */
export function withAdoption(s: Settings, manifest: K8sObject): K8sObject {
  const m = manifest.metadata;
  if (!isAdopted(s, manifest.kind, m.name, m.namespace)) return manifest;
  return { ...manifest, metadata: { ...m, annotations: { ...m.annotations, [PATCH_FORCE_ANNOTATION]: "true" } } };
}

const KIND_OF_TYPE = new Map(Object.entries(ADOPTABLE_TYPES).map(([kind, type]) => [type, kind]));

/**
 * A transformation for the top component: every adopted object gets the patchForce annotation and,
 * with `adopt.retainOnDelete`, the `retainOnDelete` option. Other resources pass through untouched.
 * It runs in the program (not in the engine), so mock tests see its effect.
 */
export function adoptionTransformation(s: Settings): pulumi.ResourceTransformation {
  return ({ type, props, opts }) => {
    const kind = KIND_OF_TYPE.get(type);
    const metadata = props.metadata as K8sObject["metadata"] | undefined;
    if (!kind || !metadata || !isAdopted(s, kind, metadata.name, metadata.namespace)) return undefined;
    return {
      props: { ...props, metadata: { ...metadata, annotations: { ...metadata.annotations, [PATCH_FORCE_ANNOTATION]: "true" } } },
      opts: s.adopt?.retainOnDelete ? pulumi.mergeOptions(opts, { retainOnDelete: true }) : opts,
    };
  };
}

/** The top component's options: the caller's, plus the adoption transformation when `adopt` is set. */
export function adoptionOptions(s: Settings, opts: pulumi.ComponentResourceOptions | undefined): pulumi.ComponentResourceOptions | undefined {
  return s.adopt ? pulumi.mergeOptions(opts, { transformations: [adoptionTransformation(s)] }) : opts;
}
