// Adopting the seed's hand-made objects, checked against a real kube-apiserver (scripts/cluster, its own
// folder and ports). The user's setup is made the way the seed makes it (kubectl apply / patch); then
// the program's rendered objects are sent exactly as the Pulumi Kubernetes provider v4 sends a create:
// one server-side apply PATCH (application/apply-patch+yaml) with the resource's field manager and
// force = the `pulumi.com/patchForce` annotation (provider/pkg/await/await.go: Creation, patchForce).
// adopt.e2e.test.ts runs the same takeover through the real engine and provider (preview, up, destroy).
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATCH_FORCE_ANNOTATION } from "../../components/adopt";
import type { K8sObject } from "../../components/controller/manifests";
import { readStackConfig, renderFiles, validate } from "../../scripts/render";
import { type Cluster, devStackFile, startCluster, until } from "./adopt-fixtures";

const PULUMI_MANAGER = "pulumi-kubernetes-0a1b2c3d"; // the provider's generated name for one resource
const WEAVE_PATCH_MANAGER = "pulumi-kubernetes-9f8e7d6c";
let cluster: Cluster;
const jsonOf = (...args: string[]) => cluster.json(...args);
const resetSeed = () => cluster.resetSeed();

/** One server-side apply PATCH, as the provider sends it. */
function apply(obj: K8sObject, manager: string, force: boolean): Promise<{ status: number; body: any }> {
  const group = obj.apiVersion === "v1" ? "/api/v1" : `/apis/${obj.apiVersion}`;
  const plural = obj.kind.toLowerCase().replace(/y$/, "ie").replace(/s$/, "se") + "s";
  const ns = obj.metadata.namespace ? `/namespaces/${obj.metadata.namespace}` : "";
  const path = `${group}${ns}/${plural}/${obj.metadata.name}?fieldManager=${manager}&force=${force}&fieldValidation=Warn`;
  const pki = join(cluster.dir, "pki");
  return new Promise((done, fail) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: cluster.apiPort,
        method: "PATCH",
        path,
        ca: readFileSync(join(pki, "ca.crt")),
        cert: readFileSync(join(pki, "admin.crt")),
        key: readFileSync(join(pki, "admin.key")),
        headers: { "Content-Type": "application/apply-patch+yaml" },
      },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => done({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    req.on("error", fail);
    req.end(JSON.stringify(obj));
  });
}

function rendered(extraConfig: string) {
  const text = devStackFile(extraConfig);
  const { settings } = validate(readStackConfig(text, "adopt"));
  return renderFiles("adopt", settings);
}

const byKind = (objects: K8sObject[], kind: string) => objects.find((o) => o.kind === kind)!;
function withoutAdoption(o: K8sObject): K8sObject {
  const { [PATCH_FORCE_ANNOTATION]: _, ...annotations } = o.metadata.annotations ?? {};
  const { annotations: _all, ...rest } = o.metadata;
  return { ...o, metadata: Object.keys(annotations).length ? { ...rest, annotations } : rest };
}

beforeAll(() => {
  cluster = startCluster("/tmp/ihp-cluster-adopt-ssa", 27500);
  cluster.makeSeed();
  cluster.kubectl("patch", "daemonsets.apps", "-n", "kube-system", "weave-net", "--type=json", "-p", '[{"op":"add","path":"/spec/template/spec/containers/0/env/-","value":{"name":"NO_MASQ_LOCAL","value":"1"}}]');
}, 600_000);
afterAll(() => cluster?.down());

describe("adopting the seed's objects with server-side apply (f5 flavour, dev stack + adopt)", () => {
  const r = rendered("  ingress-haproxy:adopt: {}\n");

  it("without patchForce, the Service conflicts with kubectl's fields and nothing changes", async () => {
    resetSeed();
    const ns = await apply(withoutAdoption(byKind(r.objects, "Namespace")), PULUMI_MANAGER, false);
    expect(ns.status).toBe(200); // exists: patched in place, no conflict (kubectl set no labels)
    const svc = await apply(withoutAdoption(byKind(r.objects, "Service")), PULUMI_MANAGER, false);
    expect(svc.status).toBe(409);
    expect(svc.body.message).toBe(
      'Apply failed with 3 conflicts: conflicts with "kubectl-client-side-apply" using v1:\n' +
        "- .spec.selector\n" +
        '- .spec.ports[port=80,protocol="TCP"].targetPort\n' +
        '- .spec.ports[port=443,protocol="TCP"].targetPort',
    );
    expect(jsonOf("get", "svc", "ingress", "-n", "nginx-ingress").spec.selector).toEqual({ name: "nginx-ingress" });
  });

  it("with adopt, every object applies; the Service keeps its UID, clusterIP and NodePorts; traffic moves to the DaemonSet's pods", async () => {
    resetSeed();
    const before = jsonOf("get", "svc", "ingress", "-n", "nginx-ingress");
    const oldPod = await until("the seed's pod", () => jsonOf("get", "pods", "-n", "nginx-ingress", "-l", "name=nginx-ingress").items[0]?.status?.podIP);

    const statuses: string[] = [];
    for (const o of r.objects) statuses.push(`${(await apply(o, PULUMI_MANAGER, o.metadata.annotations?.[PATCH_FORCE_ANNOTATION] === "true")).status} ${o.kind}`);
    expect(statuses).toEqual([
      "200 Namespace",
      "200 ConfigMap",
      "201 ServiceAccount",
      "201 ClusterRole",
      "201 ClusterRoleBinding",
      "201 Role",
      "201 RoleBinding",
      "201 IngressClass",
      "201 DaemonSet",
      "200 Service",
      "201 NetworkPolicy",
    ]);

    const after = jsonOf("get", "svc", "ingress", "-n", "nginx-ingress");
    expect([after.metadata.uid, after.spec.clusterIP, after.spec.ports.map((p: any) => p.nodePort)]).toEqual([before.metadata.uid, before.spec.clusterIP, [30111, 30112]]);
    // spec.selector is an atomic map: replaced whole, the seed's `name` key does not linger.
    expect(after.spec.selector).toEqual({ "app.kubernetes.io/name": "nginx-ingress", "app.kubernetes.io/component": "controller" });
    expect(after.spec.externalTrafficPolicy).toBe("Local");
    // kubectl's last-applied annotation stays (kubectl owns it): a later `kubectl apply` of the seed's
    // file would diff against it, so docs/migrating.md says to remove it.
    expect(Object.keys(after.metadata.annotations).sort()).toEqual(["kubectl.kubernetes.io/last-applied-configuration", PATCH_FORCE_ANNOTATION]);

    // ConfigMap data is a granular map: keys the program sets are taken over, the seed's other keys
    // stay (kubectl still owns them; the F5 controller ignores these community keys).
    expect(jsonOf("get", "cm", "nginx-config", "-n", "nginx-ingress").data).toEqual({
      "compute-full-forwarded-for": "true",
      "location-snippets": "proxy_set_header X-Forwarded-For $remote_addr;\ngrpc_set_header X-Forwarded-For $remote_addr;",
      "proxy-protocol": "True",
      "real-ip-header": "proxy_protocol",
      "real-ip-recursive": "False",
      "set-real-ip-from": "198.51.100.10/32",
      "use-forwarded-headers": "true",
      "use-proxy-protocol": "true",
    });

    const endpoints = await until("endpoints on the three DaemonSet pods", () => {
      const addresses = jsonOf("get", "endpointslices", "-n", "nginx-ingress", "-l", "kubernetes.io/service-name=ingress")
        .items.flatMap((s: any) => (s.endpoints ?? []).flatMap((e: any) => e.addresses));
      return addresses.length === 3 ? addresses : undefined;
    });
    expect(endpoints).not.toContain(oldPod);
  });

  it("the weave patch co-owns the seed's NO_MASQ_LOCAL, so relinquishing it (destroy) leaves the variable", async () => {
    const envNames = () => jsonOf("get", "ds", "weave-net", "-n", "kube-system").spec.template.spec.containers[0].env.map((e: any) => e.name);
    expect((await apply(r.weavePatch!, WEAVE_PATCH_MANAGER, true)).status).toBe(200);
    expect(envNames()).toEqual(["HOSTNAME", "INIT_CONTAINER", "IPALLOC_RANGE", "CHECKPOINT_DISABLE", "NO_MASQ_LOCAL"]);
    // provider/pkg/ssa.Relinquish: an apply of the bare identity with the same manager, no force.
    const bare = { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "weave-net", namespace: "kube-system" } };
    expect((await apply(bare, WEAVE_PATCH_MANAGER, false)).status).toBe(200);
    expect(envNames()).toEqual(["HOSTNAME", "INIT_CONTAINER", "IPALLOC_RANGE", "CHECKPOINT_DISABLE", "NO_MASQ_LOCAL"]);
  });
});

describe("adopting with the community flavour", () => {
  it("the seed's unsafe forwarded-header keys conflict without patchForce and are forced to false with it", async () => {
    resetSeed();
    const text = devStackFile("  ingress-haproxy:adopt: {}\n").replace("flavour: f5", "flavour: community");
    const cm = byKind(renderFiles("adopt", validate(readStackConfig(text, "adopt")).settings).objects, "ConfigMap");
    const plain = await apply(withoutAdoption(cm), PULUMI_MANAGER, false);
    expect(plain.status).toBe(409);
    expect(plain.body.message).toBe(
      'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using v1:\n- .data.compute-full-forwarded-for\n- .data.use-forwarded-headers',
    );
    expect((await apply(cm, PULUMI_MANAGER, true)).status).toBe(200);
    expect(jsonOf("get", "cm", "nginx-config", "-n", "nginx-ingress").data).toEqual({
      "compute-full-forwarded-for": "false",
      "proxy-real-ip-cidr": "198.51.100.10/32",
      "use-forwarded-headers": "false",
      "use-proxy-protocol": "true",
    });
  });
});
