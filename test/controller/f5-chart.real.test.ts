// The f5 flavour's manifests against F5 NGINX Ingress Controller 5.5.4 itself (../shared/upstream):
// its chart's RBAC and probes, the flags its binary defines, and the template lines the ConfigMap's
// X-Forwarded-For snippet relies on. (The real controller running on these manifests is the
// real-controller tier's job; this pins what the manifests were derived from.)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configMapData, daemonSetManifest, rbacManifests } from "../../components/controller/manifests";
import type { PolicyRule } from "../../components/controller/flavours";
import { devRaw, settingsOf } from "../fixtures/settings";
import { type Extracted, extractUpstream } from "./chart-release";
import { type Chart, ifBlockAround, loadChart, render } from "./helm-template-subset";

const LOCK = "nginx-ingress-leader";
const settings = (telemetryReporting: boolean) => settingsOf({ ...devRaw(), controller: { flavour: "f5", telemetryReporting } });

let release: Extracted;
let chart: (telemetry: boolean) => Chart;
const source = (path: string) => readFileSync(join(release.dir, path), "utf8");
const chartFile = (file: string) => source(join("charts", "nginx-ingress", "templates", file));

beforeAll(() => {
  release = extractUpstream("kubernetes-ingress-5.5.4.tar.gz", ["charts/nginx-ingress", "cmd/nginx-ingress/flags.go", "internal/configs/version1/nginx.ingress.tmpl", "internal/configs/configmaps.go"]);
  chart = (telemetry) =>
    loadChart(
      join(release.dir, "charts", "nginx-ingress"),
      // The program's choices in the chart's terms: Ingress resources only, no Ingress status, telemetry per the setting.
      { controller: { enableCustomResources: false, reportIngressStatus: { enable: false }, telemetryReporting: { enable: telemetry } } },
      { "nginx-ingress.leaderElectionName": LOCK },
    );
});
afterAll(() => release?.remove());

interface Permission {
  cluster: boolean;
  key: string; // group/resource:verb
  names?: string;
}
const permissions = (cluster: PolicyRule[], namespaced: PolicyRule[]): Permission[] =>
  [...cluster.map((r) => [true, r] as const), ...namespaced.map((r) => [false, r] as const)].flatMap(([isCluster, r]) =>
    r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => ({ cluster: isCluster, key: `${g}/${res}:${v}`, names: r.resourceNames?.join(",") })))),
  );
/** Whether a grants at least what b grants. */
const covers = (a: Permission, b: Permission) => a.key === b.key && (a.cluster || !b.cluster) && (a.names === undefined || a.names === b.names);
const show = (p: Permission) => `${p.cluster ? "cluster" : "namespace"} ${p.key}${p.names ? `@${p.names}` : ""}`;

describe("f5 manifests against F5 NGINX Ingress Controller 5.5.4", () => {
  it.each([false, true])("RBAC (telemetryReporting %s): nothing beyond the chart; what the chart grants and we do not is exactly the listed set", (telemetry) => {
    const rules = (file: string) => YAML.parse(render(chart(telemetry), chartFile(file).slice(chartFile(file).indexOf("\nrules:") + 1))).rules as PolicyRule[];
    const upstream = permissions(rules("clusterrole.yaml"), rules("controller-role.yaml"));
    const objects = rbacManifests(settings(telemetry)) as any[];
    const ours = permissions(objects.find((o) => o.kind === "ClusterRole").rules, objects.find((o) => o.kind === "Role").rules);
    expect(ours.filter((q) => !upstream.some((p) => covers(p, q))).map(show)).toEqual([]);
    expect(upstream.filter((p) => !ours.some((q) => covers(q, p))).map(show)).toEqual([
      "cluster /configmaps:get", // single reads (its pod, ConfigMap, TLS secrets) stay in its namespace; informers list/watch
      "cluster /pods:get",
      "cluster /secrets:get",
      "cluster /events:list", // listed only for VirtualServer/TransportServer warnings (custom resources are off)
      "cluster /services:create", // services create/update/patch/delete: NGINX Plus zone sync's headless Service only
      "cluster /services:update",
      "cluster /services:patch",
      "cluster /services:delete",
      ...(telemetry ? [] : ["cluster /nodes:list"]), // only telemetry counts nodes
      "cluster apps/replicasets:get", // the pod's owner, read by telemetry: here a DaemonSet, in its own namespace
      "cluster apps/daemonsets:get",
      "cluster apps/statefulsets:get",
      "namespace /events:list",
    ]);
    expect(objects.find((o) => o.kind === "Role").rules).toContainEqual({ apiGroups: [""], resources: ["pods"], verbs: ["update"] });
  });

  it("probes: readiness on /nginx-ready at the ready-status port; the chart has no liveness probe, neither do we", () => {
    const c = (daemonSetManifest(settings(false)) as any).spec.template.spec.containers[0];
    expect(chartFile("controller-daemonset.yaml")).not.toContain("livenessProbe");
    const readiness = YAML.parse(render(chart(false), ifBlockAround(chartFile("controller-daemonset.yaml"), /readinessProbe:/)).replace(/^\s{8}/gm, "")).readinessProbe;
    expect(readiness.httpGet).toEqual({ path: "/nginx-ready", port: "readiness-port" });
    expect((chart(false).values.controller as any).readyStatus.port).toBe(8081);
    expect(c.readinessProbe.httpGet).toEqual({ path: "/nginx-ready", port: 8081, scheme: "HTTP" });
    expect(c.livenessProbe).toBeUndefined();
  });

  it("security context: the chart's container context (read-only root left at its default, false) and its pod seccomp profile", () => {
    const ds = daemonSetManifest(settings(false)) as any;
    const block = render(chart(false), ifBlockAround(chartFile("controller-daemonset.yaml"), /allowPrivilegeEscalation: false/));
    const { readOnlyRootFilesystem, ...context } = YAML.parse(block.replace(/#nginx$/m, "").replace(/^\s{8}/gm, "")).securityContext;
    expect(readOnlyRootFilesystem).toBe(false);
    expect(ds.spec.template.spec.containers[0].securityContext).toEqual(context);
    expect(ds.spec.template.spec.securityContext).toEqual((chart(false).values.controller as any).podSecurityContext);
  });

  it("flags: every one we pass exists; telemetry and leader election default to on, snippets and Ingress status to off", () => {
    const flags = new Map([...source("cmd/nginx-ingress/flags.go").matchAll(/flag\.(Bool|String|Int)\("([a-z0-9-]+)",\s*([^,\n]+),/g)].map((m) => [m[2], m[3].trim()]));
    const args: string[] = (daemonSetManifest(settings(false)) as any).spec.template.spec.containers[0].args;
    expect(args.map((a) => a.replace(/^-/, "").split("=")[0]).filter((name) => !flags.has(name))).toEqual([]);
    expect(["enable-telemetry-reporting", "enable-leader-election", "enable-snippets", "report-ingress-status"].map((f) => flags.get(f))).toEqual(["true", "true", "false", "false"]);
    expect(args).toContain("-enable-telemetry-reporting=false");
    expect(args.some((a) => a.startsWith("-report-ingress-status"))).toBe(false);
  });

  it("X-Forwarded-For: the ConfigMap's location-snippets come before the template's $proxy_add_x_forwarded_for line in both branches", () => {
    const tmpl = source("internal/configs/version1/nginx.ingress.tmpl");
    const location = tmpl.slice(tmpl.indexOf("{{- range $location := $server.Locations}}"));
    const grpc = location.slice(0, location.indexOf("{{- else}}\n\t\tproxy_http_version"));
    const http = location.slice(grpc.length);
    for (const [branch, line] of [
      [grpc, "grpc_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"],
      [http, "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"],
    ]) {
      const snippets = branch.indexOf("{{- range $value := $location.LocationSnippets}}");
      expect(snippets).toBeGreaterThan(0);
      expect(branch.indexOf(line)).toBeGreaterThan(snippets);
    }
    // The ConfigMap key is read as newline-separated lines, which our value is.
    expect(source("internal/configs/configmaps.go")).toContain('GetMapKeyAsStringSlice(cfgm.Data, "location-snippets", cfgm, "\\n")');
    expect(configMapData(settings(false))["location-snippets"].split("\n")).toEqual([
      "proxy_set_header X-Forwarded-For $remote_addr;",
      "grpc_set_header X-Forwarded-For $remote_addr;",
    ]);
  });
});
