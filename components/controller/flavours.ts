// What differs between the two controllers that call themselves "nginx ingress": image, arguments,
// ports, probes, RBAC and the ConfigMap keys that switch on PROXY protocol. Everything else is shared.
import type { Flavour, Settings } from "../settings";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface FlavourProfile {
  /** Pinned image of the last release we checked. */
  readonly image: string;
  /** The IngressClass spec.controller value. */
  readonly controllerClass: string;
  /** Container port of the controller's own health/readiness endpoint (kubelet probes only). */
  readonly probePort: number;
  readonly readinessPath: string;
  readonly livenessPath: string;
  /**
   * Path on the default server (port 80, so the http NodePort) that answers 200 while the controller
   * serves; HAProxy's health check asks for it through PROXY protocol.
   */
  readonly nodePortHealthPath: string;
  readonly args: (s: Settings) => string[];
  readonly clusterRules: PolicyRule[];
  readonly namespaceRules: PolicyRule[];
  /** ConfigMap keys that make the controller accept PROXY protocol from, and only from, trustedProxies. */
  readonly proxyConfig: (trustedProxies: string[], forwardedHeaders: "ignore" | "trust") => Record<string, string>;
}

const READ = ["get", "list", "watch"];

const sharedClusterRules: PolicyRule[] = [
  { apiGroups: [""], resources: ["configmaps", "endpoints", "pods", "secrets"], verbs: ["list", "watch"] },
  { apiGroups: [""], resources: ["namespaces", "nodes"], verbs: READ },
  { apiGroups: [""], resources: ["services"], verbs: READ },
  { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
  { apiGroups: ["networking.k8s.io"], resources: ["ingresses", "ingressclasses"], verbs: READ },
  { apiGroups: ["networking.k8s.io"], resources: ["ingresses/status"], verbs: ["update"] },
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: READ },
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["list", "watch"] },
];

// In its own namespace the controller reads its pod (to publish status) and its ConfigMap, and holds
// the leader-election lease that serialises Ingress status updates.
const leaseRules = (leaseName: string): PolicyRule[] => [
  { apiGroups: [""], resources: ["pods", "configmaps", "secrets", "services", "endpoints"], verbs: ["get"] },
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "update"], resourceNames: [leaseName] },
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
];

const f5: FlavourProfile = {
  image: "nginx/nginx-ingress:5.5.4",
  controllerClass: "nginx.org/ingress-controller",
  probePort: 8081,
  readinessPath: "/nginx-ready",
  livenessPath: "/nginx-ready",
  nodePortHealthPath: "/nginx-health",
  args: (s) => [
    `-nginx-configmaps=$(POD_NAMESPACE)/${s.configMapName}`,
    `-ingress-class=${s.controller.ingressClassName}`,
    "-enable-custom-resources=false",
    "-health-status",
    "-health-status-uri=/nginx-health",
    "-ready-status",
    "-ready-status-port=8081",
    "-enable-leader-election",
    "-leader-election-lock-name=nginx-ingress-leader",
  ],
  clusterRules: sharedClusterRules,
  namespaceRules: leaseRules("nginx-ingress-leader"),
  proxyConfig: (trusted, forwarded) => ({
    "proxy-protocol": "True",
    "real-ip-header": forwarded === "trust" ? "X-Forwarded-For" : "proxy_protocol",
    "real-ip-recursive": forwarded === "trust" ? "True" : "False",
    "set-real-ip-from": trusted.join(","),
  }),
};

const community: FlavourProfile = {
  image: "registry.k8s.io/ingress-nginx/controller:v1.15.1",
  controllerClass: "k8s.io/ingress-nginx",
  probePort: 10254,
  readinessPath: "/healthz",
  livenessPath: "/healthz",
  nodePortHealthPath: "/healthz",
  args: (s) => [
    "/nginx-ingress-controller",
    `--configmap=$(POD_NAMESPACE)/${s.configMapName}`,
    `--ingress-class=${s.controller.ingressClassName}`,
    "--controller-class=k8s.io/ingress-nginx",
    "--election-id=ingress-nginx-leader",
    "--http-port=80",
    "--https-port=443",
    "--healthz-port=10254",
    "--enable-metrics=false",
  ],
  clusterRules: sharedClusterRules,
  namespaceRules: leaseRules("ingress-nginx-leader"),
  proxyConfig: (trusted, forwarded) => ({
    "use-proxy-protocol": "true",
    "proxy-real-ip-cidr": trusted.join(","),
    "use-forwarded-headers": forwarded === "trust" ? "true" : "false",
    "compute-full-forwarded-for": forwarded === "trust" ? "true" : "false",
  }),
};

const PROFILES: Record<Flavour, FlavourProfile> = { f5, community };

export function flavourProfile(flavour: Flavour): FlavourProfile {
  return PROFILES[flavour];
}
