import { join } from "node:path";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import {
  configMapData,
  controllerManifests,
  daemonSetManifest,
  networkPolicyManifest,
  serviceManifest,
  rbacManifests,
} from "../../components/controller/manifests";
import { flavourProfile } from "../../components/controller/flavours";
import { weavePatchManifest } from "../../components/weave/patch";
import { devRaw, problemsOf, settingsOf } from "../fixtures/settings";
import { expectGolden } from "../fixtures/golden";

const GOLDEN = join(__dirname, "..", "golden");
const dev = () => settingsOf(devRaw());
const community = () => settingsOf({ ...devRaw(), controller: { flavour: "community" } });
const twoLbs = (flavour: string) =>
  settingsOf({
    ...devRaw(),
    controller: { flavour },
    loadBalancers: [
      { name: "lb-1", address: "198.51.100.10", hostKey: devRaw().loadBalancers[0].hostKey },
      { name: "lb-2", address: "2001:db8::10", hostKey: devRaw().loadBalancers[0].hostKey },
    ],
  });

const F5_XFF_SNIPPET = "proxy_set_header X-Forwarded-For $remote_addr;\ngrpc_set_header X-Forwarded-For $remote_addr;";

describe("nginx-config keys, exactly, per flavour", () => {
  it("f5: PROXY protocol on, address from the PROXY header, only the LBs trusted, X-Forwarded-For led by that address", () => {
    expect(configMapData(twoLbs("f5"))).toEqual({
      "location-snippets": F5_XFF_SNIPPET,
      "proxy-protocol": "True",
      "real-ip-header": "proxy_protocol",
      "real-ip-recursive": "False",
      "set-real-ip-from": "198.51.100.10/32,2001:db8::10/128",
    });
  });
  it("community: the seed's use-proxy-protocol with forwarded headers NOT trusted and proxy-real-ip-cidr = LBs", () => {
    expect(configMapData(twoLbs("community"))).toEqual({
      "compute-full-forwarded-for": "false",
      "proxy-real-ip-cidr": "198.51.100.10/32,2001:db8::10/128",
      "use-forwarded-headers": "false",
      "use-proxy-protocol": "true",
    });
  });
  it("forwardedHeaders: trust is the seed's community behaviour, only when asked for", () => {
    const raw = devRaw();
    raw.controller = { flavour: "community", forwardedHeaders: "trust" };
    expect(configMapData(settingsOf(raw))).toEqual({
      "compute-full-forwarded-for": "true",
      "proxy-real-ip-cidr": "198.51.100.10/32",
      "use-forwarded-headers": "true",
      "use-proxy-protocol": "true",
    });
  });
  it("forwardedHeaders: trust is refused with f5 (any client would choose its address), in the settings and in the builder", () => {
    expect(problemsOf({ ...devRaw(), controller: { flavour: "f5", forwardedHeaders: "trust" } })).toEqual([
      {
        path: "ingress-haproxy:controller.forwardedHeaders",
        message:
          '"trust" is refused with flavour f5: F5 NGINX Ingress Controller 5.5.4 would take the client address from X-Forwarded-For (real_ip_header X-Forwarded-For, real_ip_recursive on), and HAProxy forwards TCP and never writes that header, so any client could choose its address; use "ignore" (the address comes from the PROXY header)',
      },
    ]);
    expect(() => flavourProfile("f5").proxyConfig(["198.51.100.10/32"], "trust")).toThrow('controller.forwardedHeaders "trust" is not supported with flavour f5');
  });
  it("extraConfig is kept beside the managed keys, sorted, and may not replace f5's X-Forwarded-For snippet", () => {
    const raw = devRaw();
    raw.controller = { flavour: "f5", extraConfig: { "worker-processes": "2", "client-max-body-size": "5m" } };
    expect(Object.keys(configMapData(settingsOf(raw)))).toEqual([
      "client-max-body-size",
      "location-snippets",
      "proxy-protocol",
      "real-ip-header",
      "real-ip-recursive",
      "set-real-ip-from",
      "worker-processes",
    ]);
    raw.controller = { flavour: "f5", extraConfig: { "location-snippets": "proxy_set_header X-Forwarded-For $http_x_forwarded_for;" } };
    expect(problemsOf(raw).map((p) => p.path)).toEqual(["ingress-haproxy:controller.extraConfig.location-snippets"]);
  });
});

describe("controller arguments, probes and RBAC, exactly, per flavour", () => {
  const container = (s: ReturnType<typeof dev>) => (daemonSetManifest(s) as any).spec.template.spec.containers[0];
  const rules = (s: ReturnType<typeof dev>, kind: "ClusterRole" | "Role") => (rbacManifests(s).find((m) => m.kind === kind) as any).rules;
  const withTelemetry = () => settingsOf({ ...devRaw(), controller: { flavour: "f5", telemetryReporting: true } });

  it("f5: telemetry off, snippets off, readiness on /nginx-ready and no liveness probe", () => {
    const c = container(dev());
    expect(c.args).toEqual([
      "-nginx-configmaps=$(POD_NAMESPACE)/nginx-config",
      "-ingress-class=nginx",
      "-enable-custom-resources=false",
      "-enable-snippets=false",
      "-health-status",
      "-health-status-uri=/nginx-health",
      "-ready-status",
      "-ready-status-port=8081",
      "-enable-leader-election",
      "-leader-election-lock-name=nginx-ingress-leader",
      "-enable-telemetry-reporting=false",
    ]);
    expect(c.readinessProbe).toEqual({ httpGet: { path: "/nginx-ready", port: 8081, scheme: "HTTP" }, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 });
    expect(Object.keys(c)).toEqual(["name", "image", "imagePullPolicy", "args", "env", "ports", "readinessProbe", "lifecycle", "resources", "securityContext"]);
  });
  it("f5 RBAC: pods update in its namespace; no endpoints, no ingresses/status, no nodes or apps while telemetry is off", () => {
    expect(rules(dev(), "ClusterRole")).toEqual([
      { apiGroups: [""], resources: ["configmaps", "pods", "secrets"], verbs: ["list", "watch"] },
      { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
      { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["networking.k8s.io"], resources: ["ingressclasses"], verbs: ["get", "list"] },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["list", "watch"] },
    ]);
    expect(rules(dev(), "Role")).toEqual([
      { apiGroups: [""], resources: ["pods", "configmaps", "secrets", "services"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["update"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "update"], resourceNames: ["nginx-ingress-leader"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    ]);
  });
  it("f5 telemetryReporting: true turns the flag on and adds exactly what the collector reads (nodes list, its own DaemonSet)", () => {
    const s = withTelemetry();
    expect(container(s).args.at(-1)).toBe("-enable-telemetry-reporting=true");
    expect(rules(s, "ClusterRole").slice(rules(dev(), "ClusterRole").length)).toEqual([{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }]);
    expect(rules(s, "Role").slice(rules(dev(), "Role").length)).toEqual([
      { apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["get"], resourceNames: ["nginx-ingress"] },
    ]);
    expect(problemsOf({ ...devRaw(), controller: { flavour: "community", telemetryReporting: true } })).toEqual([
      { path: "ingress-haproxy:controller.telemetryReporting", message: "is only used with flavour f5 (the community controller has no telemetry reporting); remove it" },
    ]);
  });
  it("community: the chart's liveness and readiness on /healthz, its user and group", () => {
    const c = container(community());
    expect(c.readinessProbe).toEqual({ httpGet: { path: "/healthz", port: 10254, scheme: "HTTP" }, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 });
    expect(c.livenessProbe).toEqual({ httpGet: { path: "/healthz", port: 10254, scheme: "HTTP" }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 5 });
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 101,
      runAsGroup: 82,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
    });
  });
});

describe("Service, DaemonSet and NetworkPolicy", () => {
  it("Service is NodePort 30111/30112, policy Local, selecting exactly the controller pods", () => {
    const svc = serviceManifest(dev()) as any;
    expect(svc.metadata.name).toBe("ingress");
    expect(svc.metadata.namespace).toBe("nginx-ingress");
    expect(svc.spec).toEqual({
      type: "NodePort",
      externalTrafficPolicy: "Local",
      selector: { "app.kubernetes.io/name": "nginx-ingress", "app.kubernetes.io/component": "controller" },
      ports: [
        { name: "http", port: 80, targetPort: "http", nodePort: 30111, protocol: "TCP" },
        { name: "https", port: 443, targetPort: "https", nodePort: 30112, protocol: "TCP" },
      ],
    });
    const ds = daemonSetManifest(dev()) as any;
    expect(ds.spec.selector.matchLabels).toEqual(svc.spec.selector);
    expect(ds.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
  });
  it("DaemonSet never leaves a node without a ready pod and runs non-root with only NET_BIND_SERVICE", () => {
    const ds = daemonSetManifest(dev()) as any;
    expect(ds.spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    const c = ds.spec.template.spec.containers[0];
    expect(c.image).toBe("nginx/nginx-ingress:5.5.4");
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 101,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
    });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/nginx-ready", port: 8081, scheme: "HTTP" });
    expect(c.lifecycle.preStop.exec.command).toEqual(["sleep", "15"]);
    expect(ds.spec.template.spec.terminationGracePeriodSeconds).toBe(60);
    expect(c.resources).toEqual({ requests: { cpu: "100m", memory: "128Mi" } });
  });
  it("a ConfigMap change changes the pod template (rolls the pods), nothing else does", () => {
    const a = daemonSetManifest(dev()) as any;
    const moreNodes = devRaw();
    moreNodes.nodes.push({ name: "node-4", address: "192.0.2.14" });
    expect(daemonSetManifest(settingsOf(moreNodes))).toEqual(a);
    const otherLb = devRaw();
    otherLb.loadBalancers[0].address = "198.51.100.20";
    expect((daemonSetManifest(settingsOf(otherLb)) as any).spec.template.metadata.annotations["ingress-haproxy/config-sha256"]).not.toBe(
      a.spec.template.metadata.annotations["ingress-haproxy/config-sha256"],
    );
  });
  it("NetworkPolicy admits only the LBs (plus extraSources) to the traffic ports, probe port open", () => {
    const raw = devRaw();
    raw.networkPolicy = { extraSources: ["203.0.113.0/24"] };
    expect((networkPolicyManifest(settingsOf(raw)) as any).spec).toEqual({
      podSelector: { matchLabels: { "app.kubernetes.io/name": "nginx-ingress", "app.kubernetes.io/component": "controller" } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ ipBlock: { cidr: "198.51.100.10/32" } }, { ipBlock: { cidr: "203.0.113.0/24" } }],
          ports: [
            { protocol: "TCP", port: "http" },
            { protocol: "TCP", port: "https" },
          ],
        },
        { ports: [{ protocol: "TCP", port: 8081 }] },
      ],
    });
    const off = devRaw();
    off.networkPolicy = { enabled: false };
    expect(controllerManifests(settingsOf(off)).map((m) => m.kind)).not.toContain("NetworkPolicy");
  });
  it("weave patch adds exactly NO_MASQ_LOCAL=1 to the container named weave, with patchForce", () => {
    expect(weavePatchManifest(dev())).toEqual({
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "weave-net", namespace: "kube-system", annotations: { "pulumi.com/patchForce": "true" } },
      spec: { template: { spec: { containers: [{ name: "weave", env: [{ name: "NO_MASQ_LOCAL", value: "1" }] }] } } },
    });
  });
});

describe("golden manifests", () => {
  it.each([
    ["dev-f5", dev],
    ["dev-community", community],
  ])("%s", (name, settings) => {
    const s = settings();
    const objects = [...controllerManifests(s), weavePatchManifest(s)];
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "Namespace/nginx-ingress",
      "ConfigMap/nginx-config",
      "ServiceAccount/nginx-ingress",
      "ClusterRole/nginx-ingress-nginx-ingress",
      "ClusterRoleBinding/nginx-ingress-nginx-ingress",
      "Role/nginx-ingress",
      "RoleBinding/nginx-ingress",
      "IngressClass/nginx",
      "DaemonSet/nginx-ingress",
      "Service/ingress",
      "NetworkPolicy/nginx-ingress-proxy-sources",
      "DaemonSet/weave-net",
    ]);
    expectGolden(join(GOLDEN, `manifests-${name}.yaml`), objects.map((o) => stringify(o)).join("---\n"));
  });
});
