import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { daemonSetManifest } from "../../components/controller/manifests";
import { devRaw, settingsOf } from "../fixtures/settings";
import { installMocks, recorded, registeredSorted, settled, valueOf } from "../fixtures/mocks";

// Mocks first, then the code under test (static imports would be hoisted above setMocks).
let controllerModule: typeof import("../../components/controller/ingress-controller");
let configModule: typeof import("../../components/controller/proxy-protocol-config");
let serviceModule: typeof import("../../components/controller/node-port-service");
let weaveModule: typeof import("../../components/weave/weave-no-masq-local");

// Resource name -> names of the resources it depends on, as the engine receives them.
const dependencies = new Map<string, string[]>();

beforeAll(async () => {
  await installMocks();
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    dependencies.set(req.getName(), req.getDependenciesList().map((urn: string) => urn.split("::").pop()));
    return register(req, callback);
  };
  controllerModule = await import("../../components/controller/ingress-controller");
  configModule = await import("../../components/controller/proxy-protocol-config");
  serviceModule = await import("../../components/controller/node-port-service");
  weaveModule = await import("../../components/weave/weave-no-masq-local");
});
beforeEach(() => {
  recorded.length = 0;
  dependencies.clear();
});


describe("thin components register exactly their resources", () => {
  it("IngressController: RBAC, IngressClass and the DaemonSet", async () => {
    const c = new controllerModule.IngressController("ingress-controller", { settings: settingsOf(devRaw()) });
    expect(await valueOf(c.daemonSetName)).toBe("nginx-ingress");
    expect(await registeredSorted()).toEqual([
      "ingress-haproxy:controller:IngressController ingress-controller",
      "kubernetes:apps/v1:DaemonSet ingress-controller-daemonset-nginx-ingress",
      "kubernetes:core/v1:ServiceAccount ingress-controller-serviceaccount-nginx-ingress",
      "kubernetes:networking.k8s.io/v1:IngressClass ingress-controller-ingressclass-nginx",
      "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole ingress-controller-clusterrole-nginx-ingress-nginx-ingress",
      "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding ingress-controller-clusterrolebinding-nginx-ingress-nginx-ingress",
      "kubernetes:rbac.authorization.k8s.io/v1:Role ingress-controller-role-nginx-ingress",
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding ingress-controller-rolebinding-nginx-ingress",
    ]);
    const ds = recorded.find((r) => r.type === "kubernetes:apps/v1:DaemonSet")!;
    expect(ds.inputs.metadata).toEqual({
      name: "nginx-ingress",
      namespace: "nginx-ingress",
      labels: {
        "app.kubernetes.io/name": "nginx-ingress",
        "app.kubernetes.io/component": "controller",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/part-of": "ingress-haproxy",
      },
    });
    // The exact spec (arguments, probes) is pinned in manifests.test.ts; the component passes it on unchanged.
    expect(ds.inputs.spec).toEqual((daemonSetManifest(settingsOf(devRaw())) as any).spec);
  });

  it("IngressController: the DaemonSet waits for its RBAC and its IngressClass (F5's controller exits without the class)", async () => {
    new controllerModule.IngressController("ingress-controller", { settings: settingsOf(devRaw()) });
    await settled();
    expect(dependencies.get("ingress-controller-daemonset-nginx-ingress")).toEqual([
      "ingress-controller-serviceaccount-nginx-ingress",
      "ingress-controller-clusterrole-nginx-ingress-nginx-ingress",
      "ingress-controller-clusterrolebinding-nginx-ingress-nginx-ingress",
      "ingress-controller-role-nginx-ingress",
      "ingress-controller-rolebinding-nginx-ingress",
      "ingress-controller-ingressclass-nginx",
    ]);
    expect(dependencies.get("ingress-controller-ingressclass-nginx")).toEqual([]);
  });

  it("ProxyProtocolConfig: the nginx-config ConfigMap with the LBs as trusted sources", async () => {
    const c = new configModule.ProxyProtocolConfig("ingress-config", { settings: settingsOf(devRaw()) });
    expect(await valueOf(c.data)).toEqual({
      "location-snippets": "proxy_set_header X-Forwarded-For $remote_addr;\ngrpc_set_header X-Forwarded-For $remote_addr;",
      "proxy-protocol": "True",
      "real-ip-header": "proxy_protocol",
      "real-ip-recursive": "False",
      "set-real-ip-from": "198.51.100.10/32",
    });
    expect(await registeredSorted()).toEqual([
      "ingress-haproxy:controller:ProxyProtocolConfig ingress-config",
      "kubernetes:core/v1:ConfigMap ingress-config-configmap-nginx-config",
    ]);
  });

  it("NodePortService: Service and NetworkPolicy, or only the Service when the policy is off", async () => {
    const on = new serviceModule.NodePortService("ingress-service", { settings: settingsOf(devRaw()) });
    expect(await valueOf(on.nodePorts)).toEqual({ http: 30111, https: 30112 });
    expect(await registeredSorted()).toEqual([
      "ingress-haproxy:controller:NodePortService ingress-service",
      "kubernetes:core/v1:Service ingress-service-service-ingress",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy ingress-service-networkpolicy-nginx-ingress-proxy-sources",
    ]);
    await settled();
    recorded.length = 0;
    new serviceModule.NodePortService("ingress-service2", { settings: settingsOf({ ...devRaw(), networkPolicy: { enabled: false }, nodePorts: { http: 31000, https: 31001 } }) });
        expect(await registeredSorted()).toEqual(["ingress-haproxy:controller:NodePortService ingress-service2", "kubernetes:core/v1:Service ingress-service2-service-ingress"]);
    expect(recorded[1].inputs.spec.ports.map((p: any) => p.nodePort)).toEqual([31000, 31001]);
  });

  it("WeaveNoMasqLocal: one DaemonSetPatch on kube-system/weave-net", async () => {
    new weaveModule.WeaveNoMasqLocal("ingress-weave", { settings: settingsOf(devRaw()) });
        expect(await registeredSorted()).toEqual(["ingress-haproxy:weave:WeaveNoMasqLocal ingress-weave", "kubernetes:apps/v1:DaemonSetPatch ingress-weave-weave-net-weave"]);
    expect(recorded[1].inputs.metadata).toEqual({ name: "weave-net", namespace: "kube-system", annotations: { "pulumi.com/patchForce": "true" } });
    expect(recorded[1].inputs.spec.template.spec.containers).toEqual([{ name: "weave", env: [{ name: "NO_MASQ_LOCAL", value: "1" }] }]);
  });
});
