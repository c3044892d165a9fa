// What differs between the two controllers that call themselves "nginx ingress": image, arguments,
// ports, probes, RBAC and the ConfigMap keys that switch on PROXY protocol. Everything else is shared.
// Each value was read at the pinned release: F5 NGINX Ingress Controller v5.5.4 (its chart in
// charts/nginx-ingress, flags in cmd/nginx-ingress/flags.go) and the community chart 4.15.1 (controller
// v1.15.1, charts/ingress-nginx); test/controller/*.real.test.ts compares them with those charts.
import type { Flavour, Settings } from "../settings";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface HttpProbe {
  readonly path: string;
  readonly periodSeconds: number;
  readonly failureThreshold: number;
  readonly initialDelaySeconds?: number;
}

export interface FlavourProfile {
  /** Pinned image of the last release we checked. */
  readonly image: string;
  /** The IngressClass spec.controller value. */
  readonly controllerClass: string;
  /** Container port of the controller's own health/readiness endpoint (kubelet probes only). */
  readonly probePort: number;
  readonly readinessProbe: HttpProbe;
  /** Undefined: no liveness probe (kubelet then restarts the container only when it exits). */
  readonly livenessProbe?: HttpProbe;
  /** Group the container runs as, when the chart sets one (the image's files belong to it). */
  readonly runAsGroup?: number;
  /**
   * Path on the default server (port 80, so the http NodePort) that answers 200 while the controller
   * serves; HAProxy's health check asks for it through PROXY protocol.
   */
  readonly nodePortHealthPath: string;
  readonly args: (s: Settings) => string[];
  readonly clusterRules: (s: Settings) => PolicyRule[];
  /** Rules in the controller's own namespace. */
  readonly namespaceRules: (s: Settings) => PolicyRule[];
  /** ConfigMap keys that make the controller accept PROXY protocol from, and only from, trustedProxies. */
  readonly proxyConfig: (trustedProxies: string[], forwardedHeaders: "ignore" | "trust") => Record<string, string>;
}

const READ = ["get", "list", "watch"];
const F5_LEASE = "nginx-ingress-leader";
/** Name of the controller DaemonSet (manifests.ts APP_NAME); F5's telemetry reads it as the pod's owner. */
const F5_DAEMONSET = "nginx-ingress";

// F5's Ingress template (internal/configs/version1/nginx.ingress.tmpl) renders, in every location,
// the ConfigMap's location-snippets and then `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`
// (`grpc_set_header` for gRPC): a client's own X-Forwarded-For would reach the app as the leftmost entry.
// No key removes that line, and nginx sends both lines when a header is set twice, so the snippet puts
// the PROXY header's address first: apps see "client, <client-sent entries>, client".
const F5_FORWARDED_FOR = ["proxy_set_header X-Forwarded-For $remote_addr;", "grpc_set_header X-Forwarded-For $remote_addr;"];

const f5: FlavourProfile = {
  image: "nginx/nginx-ingress:5.5.4",
  controllerClass: "nginx.org/ingress-controller",
  probePort: 8081,
  // /nginx-ready answers 503 until the first full sync: fine for readiness, a restart loop as liveness.
  // The chart (templates/controller-daemonset.yaml) sets readiness only; /nginx-health is on port 80,
  // which expects PROXY protocol, so kubelet cannot probe it either.
  readinessProbe: { path: "/nginx-ready", periodSeconds: 5, failureThreshold: 3 },
  nodePortHealthPath: "/nginx-health",
  args: (s) => [
    `-nginx-configmaps=$(POD_NAMESPACE)/${s.configMapName}`,
    `-ingress-class=${s.controller.ingressClassName}`,
    "-enable-custom-resources=false",
    // An Ingress's own nginx.org/location-snippets would replace the ConfigMap's X-Forwarded-For line.
    "-enable-snippets=false",
    "-health-status",
    "-health-status-uri=/nginx-health",
    "-ready-status",
    "-ready-status-port=8081",
    "-enable-leader-election",
    `-leader-election-lock-name=${F5_LEASE}`,
    // Defaults to true (cmd/nginx-ingress/flags.go): the leader would report to F5 over the internet.
    `-enable-telemetry-reporting=${s.controller.telemetryReporting}`,
  ],
  // From charts/nginx-ingress/templates/clusterrole.yaml, keeping only what the flags above use
  // (no custom resources, no -report-ingress-status, no NGINX Plus); the calls are cited per rule.
  clusterRules: (s) => [
    // Informers (internal/k8s/controller.go); 5.x reads endpoints from EndpointSlices only.
    { apiGroups: [""], resources: ["configmaps", "pods", "secrets"], verbs: ["list", "watch"] },
    // internal/k8s/namespace.go gets and watches namespaces; telemetry reads kube-system's UID.
    { apiGroups: [""], resources: ["namespaces"], verbs: READ },
    { apiGroups: [""], resources: ["services"], verbs: READ },
    { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: READ },
    // cmd/nginx-ingress/main.go gets its IngressClass at start (and exits without it); telemetry lists them.
    { apiGroups: ["networking.k8s.io"], resources: ["ingressclasses"], verbs: ["get", "list"] },
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: READ },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["list", "watch"] },
    // Ingress status is written only with -report-ingress-status (off): no ingresses/status update.
    // internal/telemetry/cluster.go counts nodes.
    ...(s.controller.telemetryReporting ? [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }] : []),
  ],
  // From charts/nginx-ingress/templates/controller-role.yaml.
  namespaceRules: (s) => [
    // Its own pod (cmd/nginx-ingress/main.go), its ConfigMap, TLS secrets and services.
    { apiGroups: [""], resources: ["pods", "configmaps", "secrets", "services"], verbs: ["get"] },
    // updateSelfWithVersionInfo (cmd/nginx-ingress/main.go) writes version labels on its own pod.
    { apiGroups: [""], resources: ["pods"], verbs: ["update"] },
    // The lease elects one pod. With -report-ingress-status and custom resources off it writes no
    // status; it is the pod that reports telemetry when that is on (internal/k8s/leader.go).
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "update"], resourceNames: [F5_LEASE] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    // Telemetry gets the pod's owner in its own namespace (internal/telemetry/cluster.go); the chart
    // grants replicasets/daemonsets/statefulsets get cluster-wide, but the owner here is this DaemonSet.
    ...(s.controller.telemetryReporting ? [{ apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["get"], resourceNames: [F5_DAEMONSET] }] : []),
  ],
  proxyConfig: (trusted, forwarded) => {
    // settings.ts refuses this; a builder must not render it either.
    if (forwarded === "trust") throw new Error("controller.forwardedHeaders \"trust\" is not supported with flavour f5: any client could choose its address");
    return {
      "location-snippets": F5_FORWARDED_FOR.join("\n"),
      "proxy-protocol": "True",
      "real-ip-header": "proxy_protocol",
      "real-ip-recursive": "False",
      "set-real-ip-from": trusted.join(","),
    };
  },
};

const COMMUNITY_LEASE = "ingress-nginx-leader";

const community: FlavourProfile = {
  // The chart pins the digest too (values.yaml controller.image.digest).
  image: "registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1",
  controllerClass: "k8s.io/ingress-nginx",
  probePort: 10254,
  // The chart's probes (values.yaml controller.readinessProbe/livenessProbe), except readiness every
  // 5 s without the initial delay, so a rollout's new pod takes traffic sooner.
  readinessProbe: { path: "/healthz", periodSeconds: 5, failureThreshold: 3 },
  livenessProbe: { path: "/healthz", periodSeconds: 10, failureThreshold: 5, initialDelaySeconds: 10 },
  runAsGroup: 82,
  nodePortHealthPath: "/healthz",
  args: (s) => [
    "/nginx-ingress-controller",
    `--configmap=$(POD_NAMESPACE)/${s.configMapName}`,
    `--ingress-class=${s.controller.ingressClassName}`,
    "--controller-class=k8s.io/ingress-nginx",
    `--election-id=${COMMUNITY_LEASE}`,
    "--http-port=80",
    "--https-port=443",
    "--healthz-port=10254",
    "--enable-metrics=false",
  ],
  // charts/ingress-nginx/templates/clusterrole.yaml as rendered with the chart's defaults.
  clusterRules: () => [
    { apiGroups: [""], resources: ["configmaps", "endpoints", "nodes", "pods", "secrets", "namespaces"], verbs: ["list", "watch"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["list", "watch"] },
    { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
    { apiGroups: [""], resources: ["services"], verbs: READ },
    { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: READ },
    { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    { apiGroups: ["networking.k8s.io"], resources: ["ingresses/status"], verbs: ["update"] },
    { apiGroups: ["networking.k8s.io"], resources: ["ingressclasses"], verbs: READ },
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch", "get"] },
  ],
  // charts/ingress-nginx/templates/controller-role.yaml, with --update-status left on (its default).
  namespaceRules: () => [
    { apiGroups: [""], resources: ["namespaces"], verbs: ["get"] },
    { apiGroups: [""], resources: ["configmaps", "pods", "secrets", "endpoints"], verbs: READ },
    { apiGroups: [""], resources: ["services"], verbs: READ },
    { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: READ },
    { apiGroups: ["networking.k8s.io"], resources: ["ingresses/status"], verbs: ["update"] },
    { apiGroups: ["networking.k8s.io"], resources: ["ingressclasses"], verbs: READ },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [COMMUNITY_LEASE], verbs: ["get", "update"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch", "get"] },
  ],
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
