// The single source of truth for every stack setting: its type, its default and the error a user
// sees when it is wrong. index.ts, the offline renderer and the tests all go through parseSettings.
import { isIP } from "node:net";
import { z } from "zod";
import { flavourProfile } from "./controller/flavours";
import { LABEL_KEY_RE, LABEL_VALUE_RE, parseLabelSelector } from "./discovery/label-selector";

/** Pulumi project name; stack config keys are `${CONFIG_NAMESPACE}:<key>`. */
export const CONFIG_NAMESPACE = "ingress-haproxy";

/** Keys that must be set with `pulumi config set --secret`; they never enter the plain settings object. */
export const SECRET_KEYS = ["sshPrivateKey", "statsPassword", "vrrpPassword"] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

export const FLAVOURS = ["f5", "community"] as const;
export const CNIS = ["weave", "calico", "cilium", "flannel", "other"] as const;
/** Kinds `adopt` can take over: what a manual (kubectl) install of the seed may already have. */
export const ADOPTABLE_KINDS = ["Namespace", "ConfigMap", "Service", "ServiceAccount", "IngressClass"] as const;

const QUOTES_VALUE = { quotesValue: true };

/** An enum whose error lists the choices, for both a missing and a wrong value. */
function choice<T extends readonly [string, ...string[]]>(values: T, why: string) {
  return z.enum(values, {
    errorMap: (issue) => ({
      message: (issue.code === z.ZodIssueCode.invalid_type && issue.received === "undefined" ? "is required: " : "must be ") + `one of ${values.join(", ")}${why}`,
    }),
  });
}

const ipAddress = z
  .string()
  .refine((v) => isIP(v) !== 0, {
    message: "is not an IPv4 or IPv6 address; write a bare address such as 192.0.2.11 or 2001:db8::11 (no port, no prefix length)",
  })
  .refine((v) => isIP(v) === 0 || !v.includes("%"), { message: "has an IPv6 zone; write the address without %zone, e.g. fe80::11" });

/** Control characters (newline, NUL, ...): a value with one would split a config line, a command or a manifest field. */
const CONTROL = /[\u0000-\u001f\u007f]/;
const oneLine = (example: string) =>
  z.string().min(1, `must not be empty, e.g. ${example}`).refine((v) => !CONTROL.test(v), { message: `must be one line without control characters (newline, tab, NUL), e.g. ${example}` });

const cidr = z.string().refine(isCidr, {
  message: "is not a CIDR block; write an address with a prefix length such as 203.0.113.0/24 or 2001:db8::/64",
});

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
    message: "must be a DNS label: lower-case letters, digits and '-', at most 63 characters, e.g. node-1",
  });

const nodePort = z
  .number({ invalid_type_error: "must be a number between 30000 and 32767" })
  .int("must be a whole number")
  .min(30000, "is below the NodePort range; choose a port between 30000 and 32767")
  .max(32767, "is above the NodePort range; choose a port between 30000 and 32767");

const tcpPort = z.number().int().min(1, "must be between 1 and 65535").max(65535, "must be between 1 and 65535");

// authorized_keys format, as @pulumi/command's connection.hostKey expects it (comment optional).
const HOST_KEY_RE =
  /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|rsa-sha2-(256|512)|ssh-rsa) [A-Za-z0-9+/]+={0,3}( [^\u0000-\u001f\u007f]*)?$/;
const hostKey = z
  .string({ required_error: "is required: pin the host's SSH key, e.g. the output of `ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-`" })
  .regex(HOST_KEY_RE, {
    message: "is not an SSH public host key; use the 'TYPE BASE64' form, e.g. from `ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-`",
  })
  // @pulumi/command 1.2.1 offers only the pinned key's own type as host-key algorithm; for an RSA key
  // that is ssh-rsa (SHA-1), which OpenSSH 8.8+ no longer signs with: every push would fail to connect
  // (seen with the upstream provider against OpenSSH 9.2).
  .refine((key) => !/^(ssh-rsa|rsa-sha2-(256|512)) /.test(key), {
    message: "is an RSA host key, which @pulumi/command cannot verify against OpenSSH 8.8 or later; pin the host's ed25519 (or ECDSA) key instead, e.g. `ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-`",
  });

const absolutePath = z.string().regex(/^\/[^\u0000-\u001f\u007f'"`$\\]*$/, {
  message: "must be an absolute path on one line, without control characters (newline, NUL), quotes, '$', '`' or backslashes, e.g. /etc/haproxy/haproxy.cfg",
});

// The OCI image reference grammar (github.com/distribution/reference): [host[:port]/]path[:tag][@digest].
const IMAGE_DOMAIN = "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?";
const IMAGE_PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_REFERENCE = new RegExp(
  `^(?:${IMAGE_DOMAIN}/)?${IMAGE_PATH_COMPONENT}(?:/${IMAGE_PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);
const imageReference = z
  .string()
  .refine((v) => IMAGE_REFERENCE.test(v) && v.split(/[:@]/)[0].length <= 255, {
    message: "is not an image reference; write [registry/]repository[:tag][@sha256:digest] in lower case on one line, e.g. nginx/nginx-ingress:5.5.4",
  });

// Kubernetes label and taint keys/values (they reach the DaemonSet's nodeSelector and tolerations).
// Keys of a map are named in the problem's path, not its value: these messages quote the key themselves.
const labelKey = z.string().refine((v) => LABEL_KEY_RE.test(v), (v) => ({
  params: QUOTES_VALUE,
  message: `${JSON.stringify(v)} is not a Kubernetes label key; write [prefix/]name, name at most 63 letters, digits, '-', '_' or '.', e.g. kubernetes.io/os`,
}));
const labelValue = z.string().regex(LABEL_VALUE_RE, {
  message: "is not a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric, e.g. linux",
});
const configMapKey = z.string().refine((v) => /^[-._a-zA-Z0-9]{1,253}$/.test(v), (v) => ({
  params: QUOTES_VALUE,
  message: `${JSON.stringify(v)} is not a ConfigMap key: letters, digits, '-', '_' and '.' only, e.g. worker-connections`,
}));

const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, {
  message: "is not a Kubernetes quantity such as 100m, 128Mi or 1",
});

const interfaceName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, {
  message: "is not a network interface name: 1-15 letters, digits, '.', '_' or '-', e.g. eth0 or ens3",
});

/** Per-host keepalived overrides (the defaults are under the top-level `keepalived`). */
export const keepalivedHostSchema = z
  .object({
    interface: interfaceName.optional().describe("This host's VRRP interface (carries the floating addresses); overrides keepalived.interface."),
    configPath: absolutePath.optional().describe("This host's keepalived.conf; overrides keepalived.configPath."),
    reloadCommand: oneLine("systemctl reload-or-restart keepalived").optional().describe("This host's keepalived reload command; overrides keepalived.reloadCommand."),
    pidFile: absolutePath.optional().describe("This host's keepalived pid file; overrides keepalived.pidFile."),
  })
  .strict();

// A Kubernetes Node name (RFC 1123 subdomain), so a discovered node keeps its name in haproxy.cfg.
const nodeName = z
  .string()
  .refine((v) => v.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(v), {
    message: "must be a Kubernetes node name: lower-case letters, digits, '-' and '.', at most 253 characters, e.g. node-1 or worker-1.example.com",
  });

export const nodeSchema = z
  .object({
    name: nodeName.describe("The node's name; also names its HAProxy server line."),
    address: ipAddress.describe("The node's address that the load balancers connect to."),
  })
  .strict();

export const loadBalancerSchema = z
  .object({
    name: dnsLabel.describe("A short name for the load-balancer host; names its push resource."),
    address: ipAddress.describe("The host's address: SSH goes there, and the nodes see connections from it."),
    sshPort: tcpPort.default(22).describe("SSH port."),
    user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { message: "must be a POSIX user name, e.g. root or deploy" }).default("root").describe("SSH user; needs write access to configPath and the right to run reloadCommand."),
    hostKey: hostKey.describe("The host's pinned SSH public host key ('TYPE BASE64'). Required."),
    configPath: absolutePath.default("/etc/haproxy/haproxy.cfg").describe("Where haproxy.cfg lives on the host."),
    reloadCommand: oneLine("systemctl reload haproxy").default("systemctl reload haproxy").describe("Command that gracefully reloads HAProxy (master-worker: no dropped connections)."),
    pidFile: absolutePath.default("/run/haproxy.pid").describe("HAProxy master's pid file; the push checks that a new worker really started after the reload."),
    priority: z.number().int().min(1).max(254).optional().describe("keepalived VRRP priority of this host (only with `keepalived`)."),
    keepalived: keepalivedHostSchema.optional().describe("Per-host keepalived overrides (only with `keepalived`)."),
  })
  .strict();

export const ADDRESS_TYPES = ["InternalIP", "ExternalIP", "InternalIPv6First"] as const;

const labelSelector = z.string({ required_error: "is required: the label selector of the nodes HAProxy sends traffic to, e.g. node-role.example.com/ingress=true (\"\" selects every node)" }).superRefine((v, ctx) => {
  const parsed = parseLabelSelector(v);
  if (!parsed.ok)
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `is not a Kubernetes label selector: ${parsed.error}; write requirements separated by ',', each key, !key, key=value, key!=value, key in (a,b) or key notin (a,b), e.g. node-role.example.com/ingress=true` });
});

/** Backends from the cluster's Nodes instead of a list (components/discovery). */
export const nodeDiscoverySchema = z
  .object({
    selector: labelSelector.describe("Label selector of the Nodes HAProxy sends traffic to, as `kubectl get nodes -l` takes it (`\"\"` selects every node). Zero matching nodes fails the preview."),
    addressType: choice(ADDRESS_TYPES, " (InternalIPv6First: a node's first IPv6 InternalIP, else its first InternalIP)")
      .default("InternalIP")
      .describe("Which of a Node's `status.addresses` HAProxy connects to: the first `InternalIP`, the first `ExternalIP`, or `InternalIPv6First` (the first IPv6 InternalIP, else the first InternalIP). A matching node without one fails the preview, naming the node."),
    exclude: z
      .object({
        cordoned: z.boolean().default(true).describe("Leave out cordoned nodes (`spec.unschedulable`, `kubectl cordon`): a node being drained leaves the load balancers before its reboot."),
        notReadyGraceSeconds: z
          .number()
          .int()
          .min(0, "must be 0 or more seconds, e.g. 300")
          .max(86400, "must be at most 86400 seconds (a day), e.g. 300")
          .default(300)
          .describe("Leave out nodes whose Ready condition has not been True for longer than this. 300 s is Kubernetes' own default before it evicts pods from a not-ready node (DefaultTolerationSeconds); a shorter blip (a kubelet restart) does not rewrite every load balancer, HAProxy's health check takes the node out within seconds anyway."),
      })
      .strict()
      .default({})
      .describe("Which matching nodes to leave out; the stack output `backendSource.leftOut` lists them with the reason."),
    maxRemovedShare: z
      .number({ invalid_type_error: "must be a number between 0 and 1, e.g. 0.5" })
      .min(0, "must be between 0 and 1, e.g. 0.5")
      .max(1, "must be between 0 and 1, e.g. 0.5")
      .default(0.5)
      .describe("A change that removes more than this share of the deployed backends (the stack's last `backendSource.nodes`) fails the preview, naming the nodes: a wrong cluster or context, or a bad moment, cannot empty the load balancers. 1 allows any change."),
  })
  .strict();

/** `timeout check` when haproxy.healthCheck.timeoutMs is unset (capped at interMs). */
export const DEFAULT_CHECK_TIMEOUT_MS = 1000;

export const healthCheckSchema = z
  .object({
    interMs: z.number().int().min(100).max(60000).default(2000).describe("Milliseconds between health checks of a node."),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60000)
      .optional()
      .describe(
        `\`timeout check\`: how long a node that accepted the check's connection may take to answer. Unset: ${DEFAULT_CHECK_TIMEOUT_MS}, or interMs when that is shorter; at most interMs. The connect itself is bounded by min(interMs, timeouts.connectMs), so this does not shorten the check of a blackholed node.`,
      ),
    fall: z.number().int().min(1).max(10).default(3).describe("Failed checks before a node is taken out."),
    rise: z.number().int().min(1).max(10).default(2).describe("Passed checks before a node is put back."),
  })
  .strict()
  .superRefine((h, ctx) => {
    // Longer than inter, a stalled node's check would last longer than with no `timeout check` at all
    // (HAProxy then bounds the whole check by inter).
    if (h.timeoutMs !== undefined && h.timeoutMs > h.interMs)
      ctx.addIssue({ code: z.ZodIssueCode.custom, params: QUOTES_VALUE, path: ["timeoutMs"], message: `${h.timeoutMs} is longer than haproxy.healthCheck.interMs (${h.interMs}): a node that accepts the check but never answers would be found out later than with no timeout at all; set timeoutMs to ${h.interMs} or less, or raise interMs` });
  })
  .transform((h) => ({ ...h, timeoutMs: h.timeoutMs ?? Math.min(DEFAULT_CHECK_TIMEOUT_MS, h.interMs) }));

export const haproxySchema = z
  .object({
    frontendPorts: z
      .object({ http: tcpPort.default(80).describe("Client-facing http port."), https: tcpPort.default(443).describe("Client-facing https port (TCP passthrough).") })
      .strict()
      .refine((p) => p.http !== p.https, (p) => ({ params: QUOTES_VALUE, path: ["https"], message: `${p.https} equals frontendPorts.http; use two different ports` }))
      .default({})
      .describe("Ports HAProxy listens on for clients."),
    bindAddresses: z.array(ipAddress).min(1).default(["0.0.0.0"]).describe("Addresses the frontends bind to; 0.0.0.0 and :: mean all."),
    proxyProtocol: z.enum(["v1", "v2"]).default("v1").describe("PROXY protocol version sent to the nodes."),
    balance: z.enum(["roundrobin", "leastconn", "source"]).default("roundrobin").describe("HAProxy balance algorithm."),
    healthCheck: healthCheckSchema.default({}).describe("HTTP health checks against the controller's health endpoint on the http NodePort."),
    timeouts: z
      .object({
        connectMs: z.number().int().min(100).default(1000).describe("timeout connect (ms) to a node. 1 s on a LAN: a blackholed node costs a client at most this long before `option redispatch` moves it to another node (5 s measured 705-819 slow requests per failover, 1 s none); a lost SYN is retried on another node."),
        clientMs: z.number().int().min(1000).default(60000).describe("timeout client (ms)."),
        serverMs: z.number().int().min(1000).default(60000).describe("timeout server (ms)."),
      })
      .strict()
      .default({})
      .describe("HAProxy connect/client/server timeouts in milliseconds."),
    log: z
      .enum(["abnormal", "all"])
      .default("abnormal")
      .describe("Which client connections HAProxy logs (tcplog to /dev/log). `abnormal`: only failed or cut ones (`option dontlog-normal`); the controller already logs every request with the client's address. `all`: every connection, costing about 10 µs of HAProxy CPU per connection (0.83-0.89x of the reference with `Connection: close`, docs/performance.md)."),
    maxconn: z.number().int().min(1).optional().describe("Global maxconn. Unset: HAProxy derives it from the host's open-file limit; a value the limit cannot hold (2 fds per connection) fails the reload and the push rolls back."),
    stats: z
      .object({
        enabled: z.boolean().default(false).describe("Serve the stats page."),
        address: ipAddress.default("127.0.0.1").describe("Address the stats page binds to (loopback: reach it through SSH)."),
        port: tcpPort.default(8404).describe("Stats port."),
        user: z.string().regex(/^[A-Za-z0-9_.-]+$/, { message: "may hold only letters, digits, '.', '_' and '-'" }).default("stats").describe("Stats user name."),
      })
      .strict()
      .default({})
      .describe("Optional stats page; password from the secret `statsPassword`. Off by default; bound to loopback by default."),
  })
  .strict();

export const keepalivedSchema = z
  .object({
    virtualAddresses: z
      .array(ipAddress)
      .min(1, "must list at least one floating address, e.g. [198.51.100.100]")
      .describe("Floating addresses (IPv4 and/or IPv6) clients connect to, shared by the http and https frontends. At least one must be of the load balancers' own address family (it carries the VRRP adverts); the others move with it."),
    interface: interfaceName.default("eth0").describe("Interface that sends VRRP and carries the floating addresses (per host: loadBalancers[].keepalived.interface)."),
    virtualRouterId: z.number().int().min(1).max(255).default(51).describe("VRRP virtual_router_id, 1-255; must be unique among the VRRP groups on the network."),
    unicast: z.boolean().default(true).describe("`true`: adverts go to the other load balancers' addresses (unicast_peer); many networks drop VRRP multicast. `false`: multicast (224.0.0.18 / ff02::12)."),
    preempt: z.boolean().default(false).describe("`false` (nopreempt): a recovered higher-priority host stays BACKUP, so its return moves nothing. `true`: it takes the addresses back."),
    advertIntervalSeconds: z.number().int().min(1).max(255).default(1).describe("Seconds between VRRP adverts; a BACKUP takes over after 3 missed adverts."),
    healthCheck: z
      .object({
        intervalSeconds: z.number().int().min(1).max(60).default(1).describe("Seconds between checks that HAProxy is serving."),
        fall: z.number().int().min(1).max(10).default(2).describe("Failed checks before the host gives up the addresses (FAULT)."),
        rise: z.number().int().min(1).max(10).default(2).describe("Passed checks before the host may hold the addresses again."),
      })
      .strict()
      .default({})
      .describe("vrrp_script that checks HAProxy accepts connections on the https frontend; failing, the host goes to FAULT and the addresses move."),
    configPath: absolutePath.default("/etc/keepalived/keepalived.conf").describe("Where keepalived.conf lives on the hosts."),
    reloadCommand: oneLine("systemctl reload-or-restart keepalived").default("systemctl reload-or-restart keepalived").describe("Reloads keepalived (SIGHUP keeps the addresses) and starts it when it is not running yet, as on the first push."),
    pidFile: absolutePath.default("/run/keepalived.pid").describe("keepalived's parent pid file; the push checks it and a VRRP child are alive after the reload."),
    sysctlPath: absolutePath.default("/etc/sysctl.d/60-ingress-haproxy-nonlocal-bind.conf").describe("When haproxy.bindAddresses lists a floating address, the push sets net.ipv4 (and ipv6) ip_nonlocal_bind=1 and persists it here, so HAProxy on the BACKUP binds an address it does not hold yet."),
  })
  .strict();

export const controllerSchema = z
  .object({
    flavour: choice(FLAVOURS, " (f5 = F5 NGINX Ingress Controller, maintained; community = kubernetes/ingress-nginx, retired March 2026)").default("f5").describe("Which nginx ingress controller to run."),
    image: imageReference.optional().describe("Controller image; defaults to the pinned release of the chosen flavour."),
    ingressClassName: dnsLabel.default("nginx").describe("IngressClass this controller serves."),
    defaultIngressClass: z.boolean().default(false).describe("Mark the IngressClass as the cluster default."),
    forwardedHeaders: z
      .enum(["ignore", "trust"])
      .default("ignore")
      .describe(
        "`ignore` (safe): the client address comes only from the PROXY header; apps get it as X-Real-IP and as the first X-Forwarded-For entry (f5 keeps a client-sent X-Forwarded-For after it; README \"Forwarded headers\"). `trust` (community only): the seed's use-forwarded-headers/compute-full-forwarded-for; community 1.15.1 then takes the address from X-Forwarded-For only when the PROXY header's address is inside proxy-real-ip-cidr (the LB hosts), and keeps client-sent entries in X-Forwarded-For. Refused with f5, where any client would choose its address.",
      ),
    telemetryReporting: z.boolean().default(false).describe("f5 only: let the elected controller pod report product telemetry to F5 over the internet once a day (`-enable-telemetry-reporting`, on in F5's chart). Off here."),
    resources: z
      .object({
        requests: z.object({ cpu: quantity.default("100m").describe("CPU request."), memory: quantity.default("128Mi").describe("Memory request.") }).strict().default({}),
        limits: z.object({ memory: quantity.optional().describe("Memory limit (no CPU limit: throttling adds latency).") }).strict().default({}),
      })
      .strict()
      .default({})
      .describe("Container resource requests and limits."),
    nodeSelector: z.record(labelKey, labelValue).default({ "kubernetes.io/os": "linux" }).describe("Node selector for the controller pods."),
    tolerations: z
      .array(
        z
          .object({
            key: labelKey.optional(),
            operator: z.enum(["Exists", "Equal"]).optional(),
            value: labelValue.optional(),
            effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
          })
          .strict(),
      )
      .default([])
      .describe("Tolerations, e.g. to run on control-plane nodes too."),
    preStopSeconds: z.number().int().min(0).max(600).default(15).describe("Seconds a terminating pod keeps serving so HAProxy and kube-proxy stop sending to it first."),
    terminationGracePeriodSeconds: z.number().int().min(1).max(3600).default(60).describe("Grace period; must exceed preStopSeconds."),
    extraConfig: z.record(configMapKey, oneLine("'4096' or 'on'")).default({}).describe("Extra nginx-config ConfigMap keys; keys the program manages are refused."),
  })
  .strict()
  .superRefine((c, ctx) => {
    const managed = Object.keys(flavourProfile(c.flavour).proxyConfig([], "ignore"));
    for (const key of Object.keys(c.extraConfig))
      if (managed.includes(key))
        ctx.addIssue({ code: z.ZodIssueCode.custom, params: QUOTES_VALUE, path: ["extraConfig", key], message: `"${key}" is managed by the program (PROXY protocol and trusted addresses); remove it, or use controller.forwardedHeaders for forwarded headers` });
    // F5 5.5.4 renders `real_ip_header X-Forwarded-For; real_ip_recursive on`: the address becomes the
    // rightmost entry not sent by a trusted address, and HAProxy (TCP) never writes one, so the client picks it.
    if (c.flavour === "f5" && c.forwardedHeaders === "trust")
      ctx.addIssue({ code: z.ZodIssueCode.custom, params: QUOTES_VALUE, path: ["forwardedHeaders"], message: `"trust" is refused with flavour f5: F5 NGINX Ingress Controller 5.5.4 would take the client address from X-Forwarded-For (real_ip_header X-Forwarded-For, real_ip_recursive on), and HAProxy forwards TCP and never writes that header, so any client could choose its address; use "ignore" (the address comes from the PROXY header)` });
    if (c.flavour !== "f5" && c.telemetryReporting)
      ctx.addIssue({ code: z.ZodIssueCode.custom, params: QUOTES_VALUE, path: ["telemetryReporting"], message: `is only used with flavour f5 (the community controller has no telemetry reporting); remove it` });
    if (c.terminationGracePeriodSeconds <= c.preStopSeconds)
      ctx.addIssue({ code: z.ZodIssueCode.custom, params: QUOTES_VALUE, path: ["terminationGracePeriodSeconds"], message: `${c.terminationGracePeriodSeconds} must be greater than controller.preStopSeconds (${c.preStopSeconds}) or pods are killed mid-drain` });
  });

export const settingsSchema = z
  .object({
    cni: choice(CNIS, " (only weave gets the NO_MASQ_LOCAL patch)").describe("The cluster's CNI. `weave` adds NO_MASQ_LOCAL=1 to weave-net."),
    namespace: dnsLabel.default("nginx-ingress").describe("Namespace of the controller."),
    serviceName: dnsLabel.default("ingress").describe("Name of the NodePort Service."),
    configMapName: dnsLabel.default("nginx-config").describe("Name of the controller's ConfigMap."),
    nodePorts: z
      .object({ http: nodePort.default(30111).describe("NodePort for http (HAProxy health checks go here too)."), https: nodePort.default(30112).describe("NodePort for https (TLS passes through to the controller).") })
      .strict()
      .refine((p) => p.http !== p.https, (p) => ({ params: QUOTES_VALUE, path: ["https"], message: `${p.https} equals nodePorts.http; give http and https different NodePorts` }))
      .default({})
      .describe("NodePorts of the Service (30000-32767)."),
    nodes: z
      .array(nodeSchema)
      .min(1, "must list at least one node ({name, address}); HAProxy needs a backend")
      .superRefine(uniqueNamesAndAddresses("node", "nodes"))
      .optional()
      .describe("Cluster nodes HAProxy sends traffic to, listed by hand. Exactly one of `nodes` and `nodeDiscovery`."),
    nodeDiscovery: nodeDiscoverySchema.optional().describe("Find the nodes in the cluster instead (the Kubernetes provider's kubeconfig and context), at every preview and up. Exactly one of `nodes` and `nodeDiscovery`; README \"Nodes: a list or discovery\"."),
    loadBalancers: z
      .array(loadBalancerSchema)
      .min(1, "must list at least one load-balancer host ({name, address, hostKey})")
      .superRefine(uniqueNamesAndAddresses("load-balancer host", "loadBalancers")).describe("HAProxy hosts the config is pushed to over SSH."),
    controller: controllerSchema.default({}).describe("The nginx ingress controller."),
    haproxy: haproxySchema.default({}).describe("HAProxy settings."),
    networkPolicy: z
      .object({
        enabled: z.boolean().default(true).describe("Create the NetworkPolicy."),
        extraSources: z.array(cidr).default([]).describe("More CIDRs allowed to reach the controller ports (e.g. in-cluster clients)."),
      })
      .strict()
      .default({})
      .describe("Only the load balancers (plus extraSources) may reach the controller's traffic ports, so nobody else can forge a PROXY header."),
    weave: z
      .object({
        namespace: dnsLabel.default("kube-system").describe("weave-net's namespace."),
        daemonSetName: dnsLabel.default("weave-net").describe("weave-net's DaemonSet."),
        containerName: dnsLabel.default("weave").describe("Container that gets NO_MASQ_LOCAL=1 (matched by name)."),
      })
      .strict()
      .default({})
      .describe("Where weave-net lives (only with cni: weave)."),
    push: z
      .object({
        lockTimeoutSeconds: z.number().int().min(1).max(600).default(60).describe("How long a push waits for another push on the same host."),
        verifyTimeoutSeconds: z.number().int().min(1).max(300).default(15).describe("How long a push waits for a new HAProxy worker after the reload before rolling back."),
        onDestroy: z.enum(["restore", "leave"]).default("restore").describe("`restore`: destroy puts back the config found before the first push; `leave`: keep the last pushed config."),
        restoreOverHandEdits: z.boolean().default(false).describe("`restore` on destroy normally refuses when the live file was edited by hand since the last verified push; true restores over the edit."),
      })
      .strict()
      .default({})
      .describe("Push behaviour: lock wait, post-reload verification window, and what `pulumi destroy` does to haproxy.cfg."),
    adopt: z
      .object({
        objects: z
          .array(choice(ADOPTABLE_KINDS, " (the objects a manual setup may already have, by their configured names)"))
          .min(1, "must name at least one kind to adopt, e.g. [Namespace, ConfigMap, Service]; or remove `adopt`")
          .default(["Namespace", "ConfigMap", "Service"])
          .describe("Kinds of existing objects to take over by their configured names: they get `pulumi.com/patchForce` so the first `pulumi up` overwrites kubectl's fields instead of failing on a conflict."),
        retainOnDelete: z.boolean().default(true).describe("`pulumi destroy` leaves the adopted objects in the cluster (they existed before Pulumi)."),
      })
      .strict()
      .optional()
      .describe("Take over a hand-made setup (the seed's kubectl objects) in place, without delete/recreate; see docs/migrating.md."),
    keepalived: keepalivedSchema.optional().describe("A floating address across two or more load-balancer hosts (keepalived VRRP); needs the secret vrrpPassword. See docs/keepalived.md."),
  })
  .strict()
  .superRefine(oneNodeSource)
  .superRefine(crossFieldChecks)
  .superRefine(keepalivedChecks);

/** Settings as validated from the stack config: with `nodeDiscovery`, `nodes` is not known yet. */
export type ParsedSettings = z.infer<typeof settingsSchema>;
/** Settings with the nodes known (listed, or discovered and validated by the same schema). */
export type Settings = ParsedSettings & { nodes: NodeSettings[] };
export type NodeDiscoverySettings = z.infer<typeof nodeDiscoverySchema>;
export type AddressType = NodeDiscoverySettings["addressType"];
export type NodeSettings = z.infer<typeof nodeSchema>;
export type LoadBalancerSettings = z.infer<typeof loadBalancerSchema>;
export type KeepalivedSettings = z.infer<typeof keepalivedSchema>;
export type Flavour = Settings["controller"]["flavour"];

function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split("/");
  if (rest.length || prefix === undefined || !/^[0-9]{1,3}$/.test(prefix)) return false;
  const family = isIP(address);
  return family !== 0 && Number(prefix) <= (family === 4 ? 32 : 128);
}

function oneNodeSource(settings: { nodes?: unknown; nodeDiscovery?: unknown }, ctx: z.RefinementCtx): void {
  if ((settings.nodes === undefined) === (settings.nodeDiscovery === undefined))
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      params: QUOTES_VALUE,
      path: [settings.nodes === undefined ? "nodes" : "nodeDiscovery"],
      message:
        settings.nodes === undefined
          ? "is required, or nodeDiscovery instead: list the nodes ({name, address}), or set nodeDiscovery.selector to find them in the cluster"
          : "and nodes are both set; use exactly one: remove nodes to discover the nodes from the cluster, or remove nodeDiscovery to keep the list",
    });
}

function crossFieldChecks(settings: { nodes?: NodeSettings[]; loadBalancers: LoadBalancerSettings[] }, ctx: z.RefinementCtx): void {
  const nodeAddresses = new Set((settings.nodes ?? []).map((n) => canonicalIp(n.address)));
  settings.loadBalancers.forEach((lb, i) => {
    if (nodeAddresses.has(canonicalIp(lb.address)))
      ctx.addIssue({ code: z.ZodIssueCode.custom, params: QUOTES_VALUE, path: ["loadBalancers", i, "address"], message: `${lb.address} is also a node address; a load balancer must be a separate host` });
  });
}

const WILDCARDS = new Set(["0.0.0.0", canonicalIp("::")]);

/** keepalived: a pair (or more) with distinct priorities, floating addresses no host owns, one VRRP family. */
function keepalivedChecks(
  settings: { nodes?: NodeSettings[]; loadBalancers: LoadBalancerSettings[]; haproxy: { bindAddresses: string[] }; keepalived?: KeepalivedSettings },
  ctx: z.RefinementCtx,
): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, params: QUOTES_VALUE, path, message });
  const lbs = settings.loadBalancers;
  const k = settings.keepalived;
  if (!k) {
    lbs.forEach((lb, i) => {
      if (lb.priority !== undefined) issue(["loadBalancers", i, "priority"], "is only used with `keepalived`; remove it, or configure keepalived.virtualAddresses");
      if (lb.keepalived !== undefined) issue(["loadBalancers", i, "keepalived"], "is only used with `keepalived`; remove it, or configure keepalived.virtualAddresses");
    });
    return;
  }
  if (lbs.length < 2)
    issue(["keepalived"], `needs at least two loadBalancers: with one host the floating address has nowhere to move; remove \`keepalived\` and let clients use ${lbs[0]?.address ?? "the load balancer's address"}`);
  lbs.forEach((lb, i) => {
    if (lb.priority === undefined) issue(["loadBalancers", i, "priority"], "is required with keepalived: give each load balancer a different priority 1-254; the highest starts as MASTER (e.g. 150 and 100)");
  });
  const byPriority = new Map<number, number>();
  lbs.forEach((lb, i) => {
    if (lb.priority === undefined) return;
    const first = byPriority.get(lb.priority);
    if (first === undefined) byPriority.set(lb.priority, i);
    else issue(["loadBalancers", i, "priority"], `${lb.priority} is also the priority of loadBalancers[${first}] (${lbs[first].name}); give each load balancer a different priority so exactly one starts as MASTER`);
  });
  const family = isIP(lbs[0]?.address ?? "");
  lbs.forEach((lb, i) => {
    if (i > 0 && family && isIP(lb.address) && isIP(lb.address) !== family)
      issue(["loadBalancers", i, "address"], `${lb.address} is IPv${isIP(lb.address)} but loadBalancers[0] is IPv${family}; keepalived's VRRP peers must share one address family`);
  });
  const owners = new Map<string, string>();
  (settings.nodes ?? []).forEach((n, i) => owners.set(canonicalIp(n.address), `nodes[${i}] (${n.name})`));
  lbs.forEach((lb, i) => owners.set(canonicalIp(lb.address), `loadBalancers[${i}] (${lb.name})`));
  const vips = k.virtualAddresses;
  vips.forEach((vip, i) => {
    const owner = owners.get(canonicalIp(vip));
    if (owner) issue(["keepalived", "virtualAddresses", i], `${vip} is the address of ${owner}; a floating address must be an otherwise unused address on the load balancers' network`);
    if (WILDCARDS.has(canonicalIp(vip))) issue(["keepalived", "virtualAddresses", i], `${vip} is a wildcard; a floating address is one concrete address, e.g. 198.51.100.100`);
  });
  reportDuplicates(vips, canonicalIp, (i, first) => issue(["keepalived", "virtualAddresses", i], `${vips[i]} is listed twice (keepalived.virtualAddresses[${first}]); list each address once`));
  if (family && vips.length && !vips.some((v) => isIP(v) === family))
    issue(["keepalived", "virtualAddresses"], `has no IPv${family} address; VRRP between IPv${family} load balancers needs at least one IPv${family} floating address (addresses of the other family move with it)`);
  const vipSet = new Set(vips.map(canonicalIp));
  settings.haproxy.bindAddresses.forEach((a, i) => {
    if (!WILDCARDS.has(canonicalIp(a)) && !vipSet.has(canonicalIp(a)))
      issue(["haproxy", "bindAddresses", i], `${a} is neither a wildcard (0.0.0.0, ::) nor one of keepalived.virtualAddresses; with keepalived every load balancer binds the same addresses, so bind the wildcard or the floating addresses`);
  });
}

function uniqueNamesAndAddresses(what: string, listKey: string) {
  return (items: { name: string; address: string }[], ctx: z.RefinementCtx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, params: QUOTES_VALUE, path, message });
    reportDuplicates(items, (n) => n.name, (i, first) => issue([i, "name"], `"${items[i].name}" is already the name of ${listKey}[${first}]; every ${what} needs its own name`));
    reportDuplicates(items, (n) => canonicalIp(n.address), (i, first) => issue([i, "address"], `${items[i].address} is the same address as ${listKey}[${first}] (${items[first].address}); list each ${what} once`));
  };
}

function reportDuplicates<T>(items: T[], key: (item: T) => string, report: (index: number, firstIndex: number) => void): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    const first = seen.get(k);
    if (first !== undefined) report(i, first);
    else seen.set(k, i);
  });
}

/**
 * One spelling per address, for comparisons: IPv6 lower-cased and compressed (2001:DB8::1 equals
 * 2001:db8:0::1), and an IPv4-mapped IPv6 address as its IPv4 form (::ffff:192.0.2.11 is 192.0.2.11).
 */
export function canonicalIp(address: string): string {
  // Not an address the schema accepts (it reports that itself): compared as written.
  if (isIP(address) !== 6 || address.includes("%")) return address;
  const v6 = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (!mapped) return v6;
  const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

/** One problem with the stack config, named by its config key path. */
export interface SettingsProblem {
  readonly path: string;
  readonly message: string;
}

export class SettingsError extends Error {
  constructor(
    readonly problems: SettingsProblem[],
    what = "Invalid stack configuration",
  ) {
    super(
      `${what} (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was created or pushed:\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n") +
        `\nSet values with \`pulumi config set --path '${CONFIG_NAMESPACE}:<path>' <value>\` (add --secret for secrets) and see README "Configuration".`,
    );
    this.name = "SettingsError";
  }
}

/** Which secrets the stack has (their values stay in Pulumi outputs, never here). */
export type SecretPresence = Partial<Record<SecretKey, boolean>>;

/**
 * Validates raw stack config (keys without the project prefix) and returns typed settings with defaults,
 * or throws one SettingsError listing every problem. With `nodeDiscovery`, pass the nodes discovered
 * for it: they go through this same schema as listed `nodes` (every per-node and cross-field check),
 * and a problem with one of them is named by the node.
 */
export function parseSettings(raw: Record<string, unknown>, secrets: SecretPresence, discovered?: NodeSettings[]): Settings {
  const parsed = checkSettings(raw, secrets);
  if (!parsed.nodeDiscovery) return parsed as Settings;
  if (!discovered) throw new Error("parseSettings: nodeDiscovery is set; pass the nodes discovered for it (components/discovery)");
  const { nodeDiscovery: _d, ...listed } = raw;
  try {
    return { ...checkSettings({ ...listed, nodes: discovered }, secrets), nodeDiscovery: parsed.nodeDiscovery } as Settings;
  } catch (e) {
    if (!(e instanceof SettingsError)) throw e;
    throw new SettingsError(e.problems.map((p) => asDiscoveredProblem(p, discovered)));
  }
}

/** `nodes[2].address: ...` about a discovered node reads `nodeDiscovery: node worker-3 address ...`. */
function asDiscoveredProblem(p: SettingsProblem, discovered: NodeSettings[]): SettingsProblem {
  const named = (text: string) => text.replace(/\bnodes\[(\d+)\]/g, (_m, i: string) => `discovered node ${discovered[Number(i)]?.name ?? i}`);
  const own = new RegExp(`^${CONFIG_NAMESPACE}:nodes\\[(\\d+)\\]\\.?(.*)$`).exec(p.path);
  const fix = "; change nodeDiscovery.selector (or the node) so the selected nodes are distinct machines the load balancers reach";
  if (!own) return { path: p.path, message: named(p.message) };
  const node = discovered[Number(own[1])];
  const field = own[2] ? ` ${own[2]}` : "";
  return { path: configPath(["nodeDiscovery"]), message: `discovered node ${node.name}${field}: ${named(p.message)}${fix}` };
}

/** parseSettings without the nodes: every problem the stack config alone shows (with nodeDiscovery, before the cluster is asked). */
export function checkSettings(raw: Record<string, unknown>, secrets: SecretPresence): ParsedSettings {
  const problems: SettingsProblem[] = [];
  const plain = { ...raw };
  const present = { ...secrets };
  for (const key of SECRET_KEYS) {
    if (key in plain) {
      delete plain[key];
      if (!secrets[key]) problems.push({ path: configPath([key]), message: "must be set as a secret: `pulumi config set --secret " + key + " ...`" });
      present[key] = true;
    }
  }
  const result = settingsSchema.safeParse(plain);
  if (!result.success) problems.push(...result.error.issues.flatMap((i) => describeIssue(i, plain)));
  problems.push(...secretProblems(valueAt(plain, ["haproxy", "stats", "enabled"]) === true, present));
  problems.push(...vrrpSecretProblems(plain, present));
  if (problems.length) throw new SettingsError(problems);
  return (result as { data: ParsedSettings }).data;
}

function secretProblems(statsEnabled: boolean, secrets: SecretPresence): SettingsProblem[] {
  const problems: SettingsProblem[] = [];
  if (!secrets.sshPrivateKey)
    problems.push({ path: configPath(["sshPrivateKey"]), message: "is required: the SSH private key for the load-balancer hosts; set it with `cat KEYFILE | pulumi config set --secret sshPrivateKey`" });
  if (statsEnabled && !secrets.statsPassword)
    problems.push({ path: configPath(["statsPassword"]), message: "is required when haproxy.stats.enabled is true: `pulumi config set --secret statsPassword <password>`" });
  return problems;
}

/** VRRPv2 (IPv4 peers) authenticates with vrrpPassword; VRRPv3 (IPv6 peers) has no authentication. */
function vrrpSecretProblems(raw: Record<string, unknown>, secrets: SecretPresence): SettingsProblem[] {
  if (raw.keepalived === undefined) return [];
  const firstLb = valueAt(raw, ["loadBalancers", 0, "address"]);
  const ipv6 = typeof firstLb === "string" && isIP(firstLb) === 6;
  if (!ipv6 && !secrets.vrrpPassword)
    return [{ path: configPath(["vrrpPassword"]), message: "is required with keepalived: the load balancers authenticate their VRRP adverts with it; `pulumi config set --secret vrrpPassword <password>`" }];
  if (ipv6 && secrets.vrrpPassword)
    return [{ path: configPath(["vrrpPassword"]), message: "is not used: VRRP between IPv6 load balancers is version 3, which has no authentication; remove it with `pulumi config rm vrrpPassword`" }];
  return [];
}

function configPath(path: (string | number)[]): string {
  return CONFIG_NAMESPACE + ":" + path.map((p, i) => (typeof p === "number" ? `[${p}]` : i ? `.${p}` : p)).join("");
}

function describeIssue(issue: z.ZodIssue, raw: Record<string, unknown>): SettingsProblem[] {
  if (issue.code === z.ZodIssueCode.unrecognized_keys)
    return issue.keys.map((key) => ({ path: configPath([...issue.path, key]), message: `is not a setting; check the spelling against README "Configuration"` }));
  const path = configPath(issue.path);
  if (issue.code === z.ZodIssueCode.invalid_type && issue.received === "undefined")
    return [{ path, message: issue.message === "Required" ? "is required" : issue.message }];
  // Cross-field messages quote their own values.
  const value = issue.code === z.ZodIssueCode.custom && issue.params?.quotesValue ? undefined : valueAt(raw, issue.path);
  const shown = typeof value === "string" || typeof value === "number" ? `${JSON.stringify(value)} ` : "";
  return [{ path, message: shown + issue.message }];
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[k] : undefined), root);
}
