// Turns plain manifests from the pure builders into Pulumi Kubernetes resources. One place maps a
// kind to its resource class, so every component stays a thin wrapper.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "./controller/manifests";

type ResourceClass = new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

const CLASSES: Record<string, ResourceClass> = {
  "v1/Namespace": k8s.core.v1.Namespace,
  "v1/ConfigMap": k8s.core.v1.ConfigMap,
  "v1/Service": k8s.core.v1.Service,
  "v1/ServiceAccount": k8s.core.v1.ServiceAccount,
  "apps/v1/DaemonSet": k8s.apps.v1.DaemonSet,
  "rbac.authorization.k8s.io/v1/ClusterRole": k8s.rbac.v1.ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": k8s.rbac.v1.Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": k8s.rbac.v1.RoleBinding,
  "networking.k8s.io/v1/IngressClass": k8s.networking.v1.IngressClass,
  "networking.k8s.io/v1/NetworkPolicy": k8s.networking.v1.NetworkPolicy,
};

/** Logical name of a manifest's resource: `${prefix}-${kind}-${name}`, stable across runs. */
export function resourceName(prefix: string, manifest: K8sObject): string {
  return `${prefix}-${manifest.kind.toLowerCase()}-${manifest.metadata.name}`;
}

export function createObject(prefix: string, manifest: K8sObject, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
  const key = `${manifest.apiVersion}/${manifest.kind}`;
  const Class = CLASSES[key];
  if (!Class) throw new Error(`no resource class for ${key}; add it to components/k8s-objects.ts`);
  const { apiVersion: _apiVersion, kind: _kind, ...args } = manifest;
  return new Class(resourceName(prefix, manifest), args, opts);
}

export function createObjects(prefix: string, manifests: K8sObject[], opts: pulumi.CustomResourceOptions): pulumi.CustomResource[] {
  return manifests.map((m) => createObject(prefix, m, opts));
}
