// The community flavour's manifests, field by field, against the chart of its release (ingress-nginx
// chart 4.15.1 = controller v1.15.1, ../shared/upstream). Its nginx is a patched OpenResty build that
// cannot be built here, so this flavour is never run for real: these comparisons are what it has.
import { join } from "node:path";
import { readFileSync } from "node:fs";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { daemonSetManifest, rbacManifests } from "../../components/controller/manifests";
import { devRaw, settingsOf } from "../fixtures/settings";
import { type Extracted, extractUpstream } from "./chart-release";
import { type Chart, defineBody, loadChart, render } from "./helm-template-subset";

const s = settingsOf({ ...devRaw(), controller: { flavour: "community" } });
const ours = daemonSetManifest(s) as any;
const container = ours.spec.template.spec.containers[0];
const rulesOf = (kind: string) => (rbacManifests(s).find((m) => m.kind === kind) as any).rules;

let release: Extracted;
let chart: Chart;
const template = (file: string) => readFileSync(join(chart.dir, "templates", file), "utf8");
const rulesIn = (file: string) => YAML.parse(render(chart, template(file).slice(template(file).indexOf("\nrules:") + 1))).rules;

beforeAll(() => {
  release = extractUpstream("ingress-nginx-chart-4.15.1.tar.gz", ["charts/ingress-nginx"]);
  chart = loadChart(
    join(release.dir, "charts", "ingress-nginx"),
    // What the program deploys, in the chart's terms: no admission webhook, no status address published
    // from a Service; the class and ConfigMap names are the stack's.
    { controller: { admissionWebhooks: { enabled: false }, publishService: { enabled: false }, ingressClass: s.controller.ingressClassName } },
    // The chart's names for a release called "ingress-nginx", except the ConfigMap, which is the stack's.
    { "ingress-nginx.controller.electionID": "ingress-nginx-leader", "ingress-nginx.controller.fullname": s.configMapName },
  );
});
afterAll(() => release?.remove());

describe("community manifests = chart 4.15.1 (not run for real)", () => {
  it("ClusterRole and Role rules are the chart's, rule by rule", () => {
    expect(rulesOf("ClusterRole")).toEqual(rulesIn("clusterrole.yaml"));
    expect(rulesOf("Role")).toEqual(rulesIn("controller-role.yaml"));
  });

  it("arguments: the chart's, plus the binary's defaults stated and metrics off", () => {
    const chartArgs = YAML.parse(render(chart, defineBody(chart, "_params.tpl", "ingress-nginx.params")));
    expect(chartArgs).toEqual([
      "/nginx-ingress-controller",
      "--election-id=ingress-nginx-leader",
      "--controller-class=k8s.io/ingress-nginx",
      "--ingress-class=nginx",
      "--configmap=$(POD_NAMESPACE)/nginx-config",
    ]);
    // The chart leaves metrics on (the binary's default) by not passing the flag; nothing here scrapes them.
    const deliberate = ["--http-port=80", "--https-port=443", "--healthz-port=10254", "--enable-metrics=false"];
    expect([...container.args].sort()).toEqual([...chartArgs, ...deliberate].sort());
  });

  it("probes: the chart's liveness; readiness every 5 s without the initial delay", () => {
    const v = chart.values.controller as any;
    const { successThreshold: s1, ...liveness } = v.livenessProbe; // 1 is the Kubernetes default
    const { successThreshold: s2, initialDelaySeconds: _d, ...readiness } = v.readinessProbe;
    expect([s1, s2]).toEqual([1, 1]);
    expect(container.livenessProbe).toEqual(liveness);
    expect(container.readinessProbe).toEqual({ ...readiness, periodSeconds: 5 });
  });

  it("security context: the chart's, with seccomp set on the pod and the read-only root left at its default (false)", () => {
    const chartContext = YAML.parse(render(chart, defineBody(chart, "_helpers.tpl", "ingress-nginx.controller.containerSecurityContext")));
    const { seccompProfile, readOnlyRootFilesystem, ...rest } = chartContext;
    expect(readOnlyRootFilesystem).toBe(false);
    expect(container.securityContext).toEqual(rest);
    expect(ours.spec.template.spec.securityContext).toEqual({ seccompProfile });
  });

  it("image: the chart's tag and digest", () => {
    const image = (chart.values.controller as any).image;
    expect(container.image).toBe(`registry.k8s.io/${image.image}:${image.tag}@${image.digest}`);
  });
});
