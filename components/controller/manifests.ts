// Pure builders for every Kubernetes object the program owns. Components turn these into resources;
// the offline renderer writes them as YAML; golden files pin them.
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import type { Settings } from "../settings";
import { type HttpProbe, flavourProfile } from "./flavours";

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export const APP_NAME = "nginx-ingress";

/** Labels that select exactly the controller pods (Service, NetworkPolicy, DaemonSet). */
export function selectorLabels(): Record<string, string> {
  return { "app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/component": "controller" };
}

function commonLabels(): Record<string, string> {
  return { ...selectorLabels(), "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "ingress-haproxy" };
}

function meta(s: Settings, name: string, namespaced = true): K8sObject["metadata"] {
  return namespaced ? { name, namespace: s.namespace, labels: commonLabels() } : { name, labels: commonLabels() };
}

/** A single-address CIDR: /32 for IPv4, /128 for IPv6. */
export function hostCidr(address: string): string {
  return `${address}/${isIP(address) === 6 ? 128 : 32}`;
}

/** Addresses allowed to send PROXY headers: every load-balancer host (backends see the host, not a VIP). */
export function trustedProxyCidrs(s: Settings): string[] {
  return s.loadBalancers.map((lb) => hostCidr(lb.address));
}

export function namespaceManifest(s: Settings): K8sObject {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name: s.namespace, labels: commonLabels() } };
}

/** Keys of nginx-config the program manages; extraConfig may not override them. */
export function managedConfigKeys(s: Settings): string[] {
  return Object.keys(flavourProfile(s.controller.flavour).proxyConfig([], s.controller.forwardedHeaders));
}

export function configMapData(s: Settings): Record<string, string> {
  const managed = flavourProfile(s.controller.flavour).proxyConfig(trustedProxyCidrs(s), s.controller.forwardedHeaders);
  return sortKeys({ ...s.controller.extraConfig, ...managed });
}

export function configMapManifest(s: Settings): K8sObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: meta(s, s.configMapName), data: configMapData(s) };
}

export function rbacManifests(s: Settings): K8sObject[] {
  const profile = flavourProfile(s.controller.flavour);
  const account = APP_NAME;
  const clusterName = `${APP_NAME}-${s.namespace}`;
  const subjects = [{ kind: "ServiceAccount", name: account, namespace: s.namespace }];
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(s, account), automountServiceAccountToken: true },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: meta(s, clusterName, false), rules: profile.clusterRules(s) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: meta(s, clusterName, false),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterName },
      subjects,
    },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta(s, account), rules: profile.namespaceRules(s) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta(s, account),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: account },
      subjects,
    },
  ];
}

export function ingressClassManifest(s: Settings): K8sObject {
  const annotations: Record<string, string> = s.controller.defaultIngressClass ? { "ingressclass.kubernetes.io/is-default-class": "true" } : {};
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "IngressClass",
    metadata: { ...meta(s, s.controller.ingressClassName, false), annotations },
    spec: { controller: flavourProfile(s.controller.flavour).controllerClass },
  };
}

export function daemonSetManifest(s: Settings): K8sObject {
  const c = s.controller;
  const profile = flavourProfile(c.flavour);
  const probe = (p: HttpProbe) => ({
    httpGet: { path: p.path, port: profile.probePort, scheme: "HTTP" },
    ...(p.initialDelaySeconds === undefined ? {} : { initialDelaySeconds: p.initialDelaySeconds }),
    periodSeconds: p.periodSeconds,
    timeoutSeconds: 1,
    failureThreshold: p.failureThreshold,
  });
  const resources: Record<string, Record<string, string>> = { requests: { ...c.resources.requests } };
  if (c.resources.limits.memory) resources.limits = { memory: c.resources.limits.memory };
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: meta(s, APP_NAME),
    spec: {
      selector: { matchLabels: selectorLabels() },
      // A new pod starts beside the old one on each node before it stops: with externalTrafficPolicy
      // Local, a node without a ready pod would drop every connection HAProxy sends it.
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      minReadySeconds: 5,
      template: {
        metadata: {
          labels: commonLabels(),
          annotations: { "ingress-haproxy/config-sha256": sha256(JSON.stringify(configMapData(s))) },
        },
        spec: {
          serviceAccountName: APP_NAME,
          terminationGracePeriodSeconds: c.terminationGracePeriodSeconds,
          nodeSelector: c.nodeSelector,
          tolerations: c.tolerations,
          securityContext: { seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "controller",
              image: c.image ?? profile.image,
              imagePullPolicy: "IfNotPresent",
              args: profile.args(s),
              env: [
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
              ],
              ports: [
                { name: "http", containerPort: 80, protocol: "TCP" },
                { name: "https", containerPort: 443, protocol: "TCP" },
                { name: "health", containerPort: profile.probePort, protocol: "TCP" },
              ],
              readinessProbe: probe(profile.readinessProbe),
              ...(profile.livenessProbe ? { livenessProbe: probe(profile.livenessProbe) } : {}),
              // Keep serving while endpoints, kube-proxy and HAProxy's checks notice the pod is leaving.
              lifecycle: { preStop: { exec: { command: ["sleep", String(c.preStopSeconds)] } } },
              resources,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 101,
                ...(profile.runAsGroup === undefined ? {} : { runAsGroup: profile.runAsGroup }),
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
              },
            },
          ],
        },
      },
    },
  };
}

export function serviceManifest(s: Settings): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(s, s.serviceName),
    spec: {
      type: "NodePort",
      // Local: no SNAT and no second hop, so the controller sees the load balancer's own address and
      // can trust its PROXY header; a node without a ready controller pod refuses the connection.
      externalTrafficPolicy: "Local",
      selector: selectorLabels(),
      ports: [
        { name: "http", port: 80, targetPort: "http", nodePort: s.nodePorts.http, protocol: "TCP" },
        { name: "https", port: 443, targetPort: "https", nodePort: s.nodePorts.https, protocol: "TCP" },
      ],
    },
  };
}

/** Only the load balancers may open the PROXY-protocol ports; the probe port stays open for kubelet. */
export function networkPolicyManifest(s: Settings): K8sObject {
  const profile = flavourProfile(s.controller.flavour);
  const sources = [...trustedProxyCidrs(s), ...s.networkPolicy.extraSources];
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta(s, `${APP_NAME}-proxy-sources`),
    spec: {
      podSelector: { matchLabels: selectorLabels() },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: sources.map((cidr) => ({ ipBlock: { cidr } })),
          ports: [
            { protocol: "TCP", port: "http" },
            { protocol: "TCP", port: "https" },
          ],
        },
        { ports: [{ protocol: "TCP", port: profile.probePort }] },
      ],
    },
  };
}

/** Every object the controller side owns, in apply order. */
export function controllerManifests(s: Settings): K8sObject[] {
  return [
    namespaceManifest(s),
    configMapManifest(s),
    ...rbacManifests(s),
    ingressClassManifest(s),
    daemonSetManifest(s),
    serviceManifest(s),
    ...(s.networkPolicy.enabled ? [networkPolicyManifest(s)] : []),
  ];
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}
