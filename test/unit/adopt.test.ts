import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SettingsError, parseSettings } from "../../components/settings";
import { devRaw, settingsOf } from "../fixtures/settings";
import { registrationsDone } from "../fixtures/mocks";

// What the engine would receive for each resource: type, name, inputs and the options adoption
// changes (retainOnDelete, dependencies). The mock monitor's registerResource sees the full request.
interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
  retainOnDelete: boolean;
  dependencies: string[];
}
const registered: Registered[] = [];

let adopt: typeof import("../../components/adopt");
let config: typeof import("../../components/controller/proxy-protocol-config");
let service: typeof import("../../components/controller/node-port-service");
let controller: typeof import("../../components/controller/ingress-controller");
let k8s: typeof import("@pulumi/kubernetes");

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    { newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: (a) => a.inputs },
    "ingress-haproxy",
    "test",
    false,
  );
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    registered.push({
      type: req.getType(),
      name: req.getName(),
      inputs: pulumi.runtime.deserializeProperties(req.getObject()),
      retainOnDelete: req.getRetainondelete(),
      dependencies: req.getDependenciesList().map((urn: string) => urn.split("::").pop()),
    });
    return register(req, callback);
  };
  adopt = await import("../../components/adopt");
  config = await import("../../components/controller/proxy-protocol-config");
  service = await import("../../components/controller/node-port-service");
  controller = await import("../../components/controller/ingress-controller");
  k8s = await import("@pulumi/kubernetes");
});
beforeEach(() => {
  registered.length = 0;
});

/** The adoption part of SourceIpIngress: a parent with adoptionOptions and the adoptable children. */
class Top extends pulumi.ComponentResource {
  readonly done: pulumi.Output<string>;
  constructor(settings: ReturnType<typeof settingsOf>) {
    super("ingress-haproxy:index:SourceIpIngress", "ingress", {}, adopt.adoptionOptions(settings, undefined));
    const ns = new k8s.core.v1.Namespace("ingress-namespace", { metadata: { name: settings.namespace } }, { parent: this });
    const cfg = new config.ProxyProtocolConfig("ingress-config", { settings }, { parent: this, dependsOn: [ns] });
    const ctl = new controller.IngressController("ingress-controller", { settings }, { parent: this, dependsOn: [ns, cfg] });
    const svc = new service.NodePortService("ingress-service", { settings }, { parent: this, dependsOn: [ns] });
    this.done = pulumi.all([ns.urn, cfg.urn, ctl.urn, svc.urn, svc.nodePorts]).apply(() => "done");
    this.registerOutputs({});
  }
}

async function build(raw: Record<string, any>): Promise<Map<string, Registered>> {
  const top = new Top(settingsOf(raw));
  await new Promise((resolve) => top.done.apply(resolve));
  await registrationsDone();
  return new Map(registered.map((r) => [r.name, r]));
}

const PATCH_FORCE = { "pulumi.com/patchForce": "true" };
const LABELS = {
  "app.kubernetes.io/name": "nginx-ingress",
  "app.kubernetes.io/component": "controller",
  "app.kubernetes.io/managed-by": "pulumi",
  "app.kubernetes.io/part-of": "ingress-haproxy",
};

describe("adopt settings", () => {
  it("are absent unless configured, and default to the seed's three objects, retained on destroy", () => {
    expect(settingsOf(devRaw()).adopt).toBeUndefined();
    expect(settingsOf({ ...devRaw(), adopt: {} }).adopt).toEqual({ objects: ["Namespace", "ConfigMap", "Service"], retainOnDelete: true });
  });

  it("name a wrong kind and an empty list by path", () => {
    const problems = (adoptSection: unknown) => {
      try {
        parseSettings({ ...devRaw(), adopt: adoptSection }, { sshPrivateKey: true });
      } catch (e) {
        return (e as SettingsError).problems;
      }
      throw new Error("expected a SettingsError");
    };
    expect(problems({ objects: ["Deployment"] })).toEqual([
      {
        path: "ingress-haproxy:adopt.objects[0]",
        message: '"Deployment" must be one of Namespace, ConfigMap, Service, ServiceAccount, IngressClass (the objects a manual setup may already have, by their configured names)',
      },
    ]);
    expect(problems({ objects: [], retain: true })).toEqual([
      { path: "ingress-haproxy:adopt.objects", message: "must name at least one kind to adopt, e.g. [Namespace, ConfigMap, Service]; or remove `adopt`" },
      { path: "ingress-haproxy:adopt.retain", message: 'is not a setting; check the spelling against README "Configuration"' },
    ]);
  });
});

describe("adoptedObjects and withAdoption (pure)", () => {
  it("name the objects by their configured names and scope", () => {
    const s = settingsOf({ ...devRaw(), serviceName: "edge", adopt: { objects: ["Service", "IngressClass", "ServiceAccount", "ConfigMap", "Namespace"] } });
    expect(adopt.adoptedObjects(s)).toEqual([
      { kind: "Namespace", name: "nginx-ingress" },
      { kind: "ConfigMap", name: "nginx-config", namespace: "nginx-ingress" },
      { kind: "Service", name: "edge", namespace: "nginx-ingress" },
      { kind: "ServiceAccount", name: "nginx-ingress", namespace: "nginx-ingress" },
      { kind: "IngressClass", name: "nginx" },
    ]);
    expect(adopt.adoptedObjects(settingsOf(devRaw()))).toEqual([]);
  });

  it("adds only the patchForce annotation, only to adopted objects", () => {
    const s = settingsOf({ ...devRaw(), adopt: {} });
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "nginx-config", namespace: "nginx-ingress" }, data: { a: "b" } };
    expect(adopt.withAdoption(s, cm)).toEqual({ ...cm, metadata: { ...cm.metadata, annotations: PATCH_FORCE } });
    const other = { ...cm, metadata: { name: "nginx-config", namespace: "default" } };
    expect(adopt.withAdoption(s, other)).toBe(other);
    const sa = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "nginx-ingress", namespace: "nginx-ingress" } };
    expect(adopt.withAdoption(s, sa)).toBe(sa);
  });
});

describe("adoptionTransformation (pure)", () => {
  const call = (s: ReturnType<typeof settingsOf>, type: string, props: Record<string, any>) =>
    adopt.adoptionTransformation(s)({ resource: undefined as any, type, name: "x", props, opts: { protect: false } });

  it("annotates and retains an adopted Service, keeping existing annotations and options", () => {
    const s = settingsOf({ ...devRaw(), adopt: {} });
    const props = { metadata: { name: "ingress", namespace: "nginx-ingress", annotations: { a: "1" } }, spec: { type: "NodePort" } };
    expect(call(s, "kubernetes:core/v1:Service", props)).toEqual({
      props: { metadata: { name: "ingress", namespace: "nginx-ingress", annotations: { a: "1", "pulumi.com/patchForce": "true" } }, spec: { type: "NodePort" } },
      opts: { protect: false, retainOnDelete: true },
    });
  });

  it("keeps the caller's options with retainOnDelete false", () => {
    const s = settingsOf({ ...devRaw(), adopt: { retainOnDelete: false } });
    expect(call(s, "kubernetes:core/v1:Namespace", { metadata: { name: "nginx-ingress" } })).toEqual({
      props: { metadata: { name: "nginx-ingress", annotations: PATCH_FORCE } },
      opts: { protect: false },
    });
  });

  it("leaves non-adopted kinds, names and the weave patch alone", () => {
    const s = settingsOf({ ...devRaw(), adopt: {} });
    expect(call(s, "kubernetes:apps/v1:DaemonSet", { metadata: { name: "nginx-ingress", namespace: "nginx-ingress" } })).toBeUndefined();
    expect(call(s, "kubernetes:apps/v1:DaemonSetPatch", { metadata: { name: "weave-net", namespace: "kube-system" } })).toBeUndefined();
    expect(call(s, "kubernetes:core/v1:Service", { metadata: { name: "other", namespace: "nginx-ingress" } })).toBeUndefined();
    expect(call(s, "kubernetes:core/v1:ServiceAccount", { metadata: { name: "nginx-ingress", namespace: "nginx-ingress" } })).toBeUndefined();
    expect(call(s, "ingress-haproxy:controller:NodePortService", {})).toBeUndefined();
  });
});

describe("adoption through the component tree (mocks)", () => {
  it("without adopt: no annotation, nothing retained", async () => {
    const r = await build(devRaw());
    expect([...r.values()].filter((x) => x.retainOnDelete).map((x) => x.name)).toEqual([]);
    expect(r.get("ingress-service-service-ingress")!.inputs.metadata).toEqual({ name: "ingress", namespace: "nginx-ingress", labels: LABELS });
  });

  it("with adopt: exactly Namespace, ConfigMap and Service get patchForce and retainOnDelete", async () => {
    const r = await build({ ...devRaw(), adopt: {} });
    const annotated = [...r.values()].filter((x) => x.inputs.metadata?.annotations?.["pulumi.com/patchForce"] === "true").map((x) => `${x.type} ${x.name}`);
    expect(annotated).toEqual([
      "kubernetes:core/v1:Namespace ingress-namespace",
      "kubernetes:core/v1:ConfigMap ingress-config-configmap-nginx-config",
      "kubernetes:core/v1:Service ingress-service-service-ingress",
    ]);
    expect([...r.values()].filter((x) => x.retainOnDelete).map((x) => x.name)).toEqual([
      "ingress-namespace",
      "ingress-config-configmap-nginx-config",
      "ingress-service-service-ingress",
    ]);
    expect(r.get("ingress-config-configmap-nginx-config")!.inputs.metadata).toEqual({
      name: "nginx-config",
      namespace: "nginx-ingress",
      labels: LABELS,
      annotations: PATCH_FORCE,
    });
    // The DaemonSet and the rest are the program's own: untouched.
    expect(r.get("ingress-controller-daemonset-nginx-ingress")!.inputs.metadata.annotations).toBeUndefined();
    expect(r.get("ingress-controller-daemonset-nginx-ingress")!.retainOnDelete).toBe(false);
  });

  it("with adopt and retainOnDelete false: annotations only", async () => {
    const r = await build({ ...devRaw(), adopt: { objects: ["IngressClass"], retainOnDelete: false } });
    expect([...r.values()].filter((x) => x.retainOnDelete).map((x) => x.name)).toEqual([]);
    expect(r.get("ingress-controller-ingressclass-nginx")!.inputs.metadata.annotations).toEqual(PATCH_FORCE);
    expect(r.get("ingress-service-service-ingress")!.inputs.metadata.annotations).toBeUndefined();
  });
});

describe("SourceIpIngress with adopt (mocks)", () => {
  const build = async (raw: Record<string, any>) => {
    const { SourceIpIngress } = await import("../../components/source-ip-ingress");
    const ingress = new SourceIpIngress("ingress", { settings: settingsOf(raw), secrets: { sshPrivateKey: "key" } });
    await new Promise((resolve) => ingress.loadBalancers.apply(resolve));
    await registrationsDone();
    return new Map(registered.map((r) => [r.name, r]));
  };

  it("an adopted Service waits for the controller (its new pods) before switching the selector", async () => {
    const r = await build({ ...devRaw(), adopt: {} });
    // dependsOn a component means every resource in it, down to the DaemonSet (which the provider awaits).
    expect(r.get("ingress-service")!.dependencies).toEqual([
      "ingress-namespace",
      "ingress-controller-serviceaccount-nginx-ingress",
      "ingress-controller-clusterrole-nginx-ingress-nginx-ingress",
      "ingress-controller-clusterrolebinding-nginx-ingress-nginx-ingress",
      "ingress-controller-role-nginx-ingress",
      "ingress-controller-rolebinding-nginx-ingress",
      "ingress-controller-ingressclass-nginx",
      "ingress-controller-daemonset-nginx-ingress",
    ]);
    expect(r.get("ingress-service-service-ingress")!.retainOnDelete).toBe(true);
    expect(r.get("ingress-namespace")!.inputs.metadata.annotations).toEqual(PATCH_FORCE);
  });

  it("without adopt the Service depends on the namespace only", async () => {
    const r = await build(devRaw());
    expect(r.get("ingress-service")!.dependencies).toEqual(["ingress-namespace"]);
    expect([...r.values()].filter((x) => x.retainOnDelete).map((x) => x.name)).toEqual([]);
  });
});
