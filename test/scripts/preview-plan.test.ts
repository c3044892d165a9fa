// The scheduled check's reading of a preview (scripts/preview-plan.ts, scripts/follow-cluster.ts), on the
// text the real engine printed: fixtures/preview-diff-node-4.txt is `pulumi preview --diff` (CLI 3.259,
// command provider 1.2.1) from test/engine/engine.e2e.test.ts step 5 (node-4 added, two LBs), verbatim.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decide } from "../../scripts/follow-cluster";
import { nodeChanges, outputLineDiffs, sortPlan } from "../../scripts/preview-plan";

const NODE4 = readFileSync(join(__dirname, "../fixtures/preview-diff-node-4.txt"), "utf8");
const urn = (type: string, name: string) => `urn:pulumi:engine::ingress-haproxy::${type}::${name}`;
const PUSH = "ingress-haproxy:index:SourceIpIngress$ingress-haproxy:haproxy:HaproxyLoadBalancer$command:remote:Command";
const STACK_STEP = { op: "same", urn: urn("pulumi:pulumi:Stack", "ingress-haproxy-engine") };
const pushStep = (lb: string, op = "update") => ({ op, urn: urn(PUSH, `ingress-lb-${lb}-push`) });
const json = (steps: object[]) => ({ status: 0, stdout: JSON.stringify({ steps }), out: "" });
const SERVER_HTTP = "    server node-4 192.0.2.14:30111 send-proxy check";
const SERVER_HTTPS = "    server node-4 192.0.2.14:30112 send-proxy check port 30111 check-send-proxy";

describe("outputLineDiffs", () => {
  it("reads each LB's added and removed haproxy.cfg lines from the real preview text", () => {
    const node4 = { added: [SERVER_HTTP, SERVER_HTTPS], removed: [] };
    expect(outputLineDiffs(NODE4, "haproxyConfigs")).toEqual({ "lb-1": node4, "lb-2": node4 });
  });

  it("reads the stack's own outputs, never the copy a StackReference to the stack shows (real preview, from when the shrink guard used one)", () => {
    const text = readFileSync(join(__dirname, "../fixtures/preview-diff-discovery-node-4.txt"), "utf8");
    expect(text).toContain("    > pulumi:pulumi:StackReference: (read)\n");
    const node4 = { added: [SERVER_HTTP, SERVER_HTTPS], removed: [] };
    expect(outputLineDiffs(text, "haproxyConfigs")).toEqual({ "lb-1": node4, "lb-2": node4 });
    // The reference's nested copy (previous outputs) shows a different change one update later: ignored.
    const nested = ["          ~ haproxyConfigs: {", "              ~ lb-1: ", "                  -     server node-2 192.0.2.12:30111 send-proxy check", "            }"].join("\n");
    expect(outputLineDiffs(`${nested}\n${text}`, "haproxyConfigs")).toEqual({ "lb-1": node4, "lb-2": node4 });
    expect(() => outputLineDiffs(nested, "haproxyConfigs")).toThrow("the preview shows no change of the stack output haproxyConfigs");
  });

  it("reads removed lines as well as added ones", () => {
    const text = ["  ~ haproxyConfigs: {", "      ~ lb-1: ", "            ...", "          -     server node-2 192.0.2.12:30111 send-proxy check", "          + listen stats", "    }", ""].join("\n");
    expect(outputLineDiffs(text, "haproxyConfigs")).toEqual({ "lb-1": { added: ["listen stats"], removed: ["    server node-2 192.0.2.12:30111 send-proxy check"] } });
  });

  it("refuses a preview that does not show the output changing, or cut short", () => {
    expect(() => outputLineDiffs(NODE4.replace("~ haproxyConfigs: {", "  haproxyConfigs: {"), "haproxyConfigs")).toThrow("the preview shows no change of the stack output haproxyConfigs");
    expect(() => outputLineDiffs(NODE4.split("\n").slice(0, -30).join("\n"), "haproxyConfigs")).toThrow("diff has no end");
  });
});

describe("sortPlan", () => {
  it("HAProxy push updates apart from everything else; unchanged steps and reads ignored", () => {
    const selfReference = { op: "read", urn: urn("pulumi:pulumi:StackReference", "ingress-deployed-backends") };
    expect(sortPlan([STACK_STEP, pushStep("lb-2"), selfReference, pushStep("lb-1")])).toEqual({ lbPushes: ["ingress-lb-lb-1-push", "ingress-lb-lb-2-push"], others: [] });
    const ds = { op: "update", urn: urn("ingress-haproxy:index:SourceIpIngress$ingress-haproxy:controller:IngressController$kubernetes:apps/v1:DaemonSet", "ingress-controller-daemonset-nginx-ingress") };
    // A replaced push (its delete would restore the host's old file first) is not a config push either.
    expect(sortPlan([pushStep("lb-1"), ds, pushStep("lb-2", "replace")])).toEqual({
      lbPushes: ["ingress-lb-lb-1-push"],
      others: ["replace command:remote:Command ingress-lb-lb-2-push", "update kubernetes:apps/v1:DaemonSet ingress-controller-daemonset-nginx-ingress"],
    });
  });

  it("a keepalived push or a command outside HaproxyLoadBalancer is not a HAProxy config push", () => {
    const keepalived = { op: "update", urn: urn("ingress-haproxy:index:SourceIpIngress$ingress-haproxy:keepalived:KeepalivedLoadBalancer$command:remote:Command", "ingress-lb-lb-1-keepalived-push") };
    expect(sortPlan([keepalived]).lbPushes).toEqual([]);
    expect(sortPlan([keepalived]).others).toEqual(["update command:remote:Command ingress-lb-lb-1-keepalived-push"]);
  });
});

describe("nodeChanges", () => {
  it("names the nodes whose server lines came or went, once each", () => {
    expect(nodeChanges(outputLineDiffs(NODE4, "haproxyConfigs"))).toEqual({ added: ["node-4"], removed: [] });
    expect(nodeChanges({ a: { added: [], removed: [SERVER_HTTP.replace(/node-4/g, "node-9"), "    stats enable"] } })).toEqual({ added: [], removed: ["node-9"] });
  });
});

describe("decide (follow-cluster.ts)", () => {
  const changed = { status: 255, out: NODE4 };

  it("no changes: exit 0, nothing applied", () => {
    expect(decide("dev", true, { status: 0, out: "" })).toEqual({ code: 0, up: false, text: "### dev: no changes\n\nThe stack matches the cluster (`pulumi preview --expect-no-changes` passed).\n" });
  });

  it("node-4 came: the plan names the node and both LBs' lines; without --apply it fails so a person deploys", () => {
    const r = decide("dev", false, changed, json([STACK_STEP, pushStep("lb-1"), pushStep("lb-2")]));
    expect([r.code, r.up]).toEqual([1, false]);
    const head = r.text.split("<details>")[0];
    expect(head).toBe(
      "### dev: the stack no longer matches\n\n" +
        "Nodes added: node-4; nodes removed: none.\n" +
        "HAProxy configs to push: ingress-lb-lb-1-push, ingress-lb-lb-2-push.\n\n" +
        `lb-1 haproxy.cfg:\n\`\`\`\n+ ${SERVER_HTTP}\n+ ${SERVER_HTTPS}\n\`\`\`\n\n` +
        `lb-2 haproxy.cfg:\n\`\`\`\n+ ${SERVER_HTTP}\n+ ${SERVER_HTTPS}\n\`\`\`\n\n`,
    );
    expect(r.text).toContain(NODE4.trimEnd());
    expect(r.text.endsWith("Run the deploy for this environment (re-run the last `deploy` workflow run, or `pulumi up --stack dev`), or opt in to automatic pushes (docs/environments.md).\n")).toBe(true);
  });

  it("with --apply and only HAProxy pushes: up", () => {
    const r = decide("dev", true, changed, json([STACK_STEP, pushStep("lb-1"), pushStep("lb-2")]));
    expect([r.code, r.up]).toEqual([0, true]);
    expect(r.text.endsWith("Applying: only HAProxy configs change, so `pulumi up` runs now.\n")).toBe(true);
  });

  it("with --apply but anything else changing: refuses (exit 1) and lists it", () => {
    const svc = { op: "update", urn: urn("ingress-haproxy:index:SourceIpIngress$ingress-haproxy:controller:NodePortService$kubernetes:core/v1:Service", "ingress-service-service-ingress") };
    const r = decide("prod", true, changed, json([pushStep("lb-1"), svc]));
    expect([r.code, r.up]).toEqual([1, false]);
    expect(r.text).toContain("Other changes (a person must review and deploy these):\n- update kubernetes:core/v1:Service ingress-service-service-ingress\n");
    expect(r.text.endsWith("Not applied automatically: the plan changes more than HAProxy configs. Review it and run the deploy.\n")).toBe(true);
  });

  it("the preview failing (a guard, a bad config, no cluster): exit 2 with the error, never an up", () => {
    const failed = { status: 255, stdout: "", out: "error: nodeDiscovery: no node matches the selector" };
    const r = decide("dev", true, { status: 255, out: "ignored" }, failed);
    expect(r).toEqual({ code: 2, up: false, text: "### dev: the preview failed\n\nNothing was changed. Fix the cause below (nothing is pushed until the preview passes).\n\n```\nerror: nodeDiscovery: no node matches the selector\n```\n" });
  });
});
