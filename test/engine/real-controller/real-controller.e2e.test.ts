// The real F5 NGINX Ingress Controller 5.5.4 and the real kube-proxy, end to end, with the program
// deployed by a real `pulumi up`:
//
//   client-1 203.0.113.10 -> HAProxy on lb-1/lb-2 (config pushed by `pulumi up`) -> NodePort 30111/30112
//   on a node namespace -> kube-proxy's iptables (externalTrafficPolicy Local, no SNAT) -> the
//   DaemonSet's pod on that node: the real controller + Debian's nginx -> the echo app's pod.
//
// What is not upstream code here, and why, is listed in the README ("Real-controller tier"): the
// kubelet/runtime/CNI of the kwok nodes (kubelet-standin.ts, pod-sandbox-standin.ts), the API relay
// into the namespaces (api-relay.ts), and `main-snippets` loading Debian's stream module (test stack
// config only: the image's nginx has it built in).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { configMapData, selectorLabels } from "../../../components/controller/manifests";
import { parseSettings, type Settings } from "../../../components/settings";
import { load, onHost, serverStates, waitAllServers } from "../../netns/harness";
import { type PulumiProject, type PulumiResult, pulumiProject } from "../pulumi-cli";
import { echoAppYaml, HOST } from "./echo-app";
import { CONTROLLER_IMAGE, ROOT, type World, until, worldUp } from "./environment";
import type { RunningPod } from "./kubelet-standin";

const STACK = "realctl";
const PROJECT = "ingress-haproxy";
const CLIENT = "client-1";
const CLIENT_ADDR = "203.0.113.10";
const SPOOFED = "6.6.6.6";
/** Debian's nginx has the stream module as a dynamic module; the controller's main template needs `stream {}`. */
const DEBIAN_STREAM_MODULE = { "main-snippets": "load_module modules/ngx_stream_module.so;" };
/** Opt-in while the tier is being brought up (README: "Real-controller tier"). */
const RUN = process.env.IHP_REAL_CONTROLLER === "1";
/** The fixes of components/controller for issue 12 are merged (see the last describe block). */
const FIXES = process.env.IHP_REAL_CONTROLLER_FIXES === "1";
/** IHP_REAL_CONTROLLER_KEEP=1 leaves everything running for a post-mortem. */
const KEEP = process.env.IHP_REAL_CONTROLLER_KEEP === "1";

let world: World;
let project: PulumiProject;
let raw: Record<string, any>;
let settings: Settings;

const ns = () => settings.namespace;
const ok = (r: PulumiResult): PulumiResult => {
  if (r.status !== 0) throw new Error(`pulumi exited ${r.status}:\n${r.out}`);
  return r;
};
const pulumi = (...args: string[]) => project.run([...args, "--stack", STACK]);

const controllerPods = async (): Promise<any[]> =>
  (await world.api.get(`/api/v1/namespaces/${ns()}/pods?labelSelector=${encodeURIComponent(Object.entries(selectorLabels()).map(([k, v]) => `${k}=${v}`).join(","))}`)).items;
const isReady = (pod: any): boolean => pod.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True") ?? false;
const runningOn = (node: string): RunningPod => {
  const p = [...world.kubelet.pods.values()].find((r) => r.node === node && r.key.startsWith(`${ns()}/`));
  if (!p) throw new Error(`no controller pod running on ${node}`);
  return p;
};
const logOf = (p: RunningPod): string => readFileSync(p.proc!.log, "utf8");

/** The echo app's JSON answer to a request sent by `host` (curl), plus curl's status. */
async function request(from: string, url: string, opts: { headers?: Record<string, string>; lbAddress?: string } = {}): Promise<{ code: number; body: any; raw: string }> {
  const args = ["-s", "--max-time", "5", "-w", "\n%{http_code}"];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push("-H", `${k}: ${v}`);
  if (url.startsWith("https:")) args.push("--cacert", world.hosts.tls.certPath, "--resolve", `${HOST}:443:${opts.lbAddress}`);
  else args.push("-H", `Host: ${HOST}`);
  const r = await onHost(from, "curl", [...args, url]);
  const lines = r.stdout.trimEnd().split("\n");
  const code = Number(lines.pop());
  const text = lines.join("\n");
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { code, body, raw: text };
}

/** Access-log lines (the controller's default `main` format) of every controller pod for `path`. */
function accessLines(path: string): { node: string; remoteAddr: string; xff: string; line: string }[] {
  const out: { node: string; remoteAddr: string; xff: string; line: string }[] = [];
  for (const p of world.kubelet.pods.values()) {
    if (!p.key.startsWith(`${ns()}/`)) continue;
    for (const line of logOf(p).split("\n")) {
      const m = /^(\S+) - \S+ \[[^\]]+\] "GET (\S+) HTTP\/[\d.]+" \d+ \d+ "[^"]*" "[^"]*" "([^"]*)"$/.exec(line);
      if (m && m[2] === path) out.push({ node: p.node, remoteAddr: m[1], xff: m[3], line });
    }
  }
  return out;
}

const uniquePath = (label: string) => `/t/${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

describe.runIf(RUN)("the real controller and kube-proxy, deployed by pulumi up", () => {
  beforeAll(async () => {
    world = await worldUp();
    raw = {
      ...world.hosts.stackConfig,
      cni: "calico",
      controller: { ...(world.hosts.stackConfig.controller as object), extraConfig: DEBIAN_STREAM_MODULE },
    };
    settings = parseSettings(raw, { sshPrivateKey: true });
    project = pulumiProject("real-controller-e2e-", {
      env: world.cluster.env,
      passphrase: "real-controller-e2e-passphrase",
      files: {
        "Pulumi.yaml": `${readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")}main: ${ROOT}\n`,
        [`Pulumi.${STACK}.yaml`]: YAML.stringify({ config: Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${PROJECT}:${k}`, v])) }),
      },
    });
    ok(await project.run(["stack", "init", STACK]));
    ok(await project.run(["config", "set", "--secret", "sshPrivateKey", "--stack", STACK], { input: readFileSync(world.hosts.ssh.privateKeyPath, "utf8") }));
    ok(await pulumi("up", "--yes", "--skip-preview"));

    world.cluster.kubectl("apply", "-f", writeTemp("echo-app.yaml", echoAppYaml(world.hosts, settings.controller.ingressClassName)));

    await until("3 controller pods and the echo pod Ready (by their real readiness probes)", async () => {
      const pods = await controllerPods();
      const echo = (await world.api.get("/api/v1/namespaces/echo/pods")).items;
      return pods.length === 3 && pods.every(isReady) && echo.length === 1 && echo.every(isReady);
    }, 120_000, 500);
    for (const lb of world.hosts.loadBalancers) await waitAllServers(lb, "UP", 30_000);
    // The Ingress is live on every controller (it loads Ingresses after the first sync too).
    await until("the Ingress served through lb-1", async () => (await request(CLIENT, `http://${world.hosts.loadBalancers[0].address}/healthz`)).code === 200, 30_000, 500);
  }, 900_000);

  afterAll(async () => {
    if (world) {
      if (world.kubelet.errors.length) console.log(`kubelet stand-in errors:\n${world.kubelet.errors.join("\n")}`);
      console.log(`real-controller tier log:\n${world.log.join("\n")}`);
      if (KEEP) console.log(`IHP_REAL_CONTROLLER_KEEP=1: left ${project?.dir}, the cluster and the hosts running`);
      await world.down(KEEP);
    }
    if (!KEEP) project?.remove();
  }, 300_000);

  function writeTemp(name: string, text: string): string {
    const path = join(project.dir, name);
    writeFileSync(path, text);
    return path;
  }

  describe("the program's DaemonSet runs the real controller on every node", () => {
    it("each pod is the real nginx-ingress 5.5.4 process with the program's args, Ready only after its /nginx-ready answered 200", async () => {
      const pods = await controllerPods();
      expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(["node-1", "node-2", "node-3"]);
      for (const pod of pods) {
        expect(pod.spec.containers.map((c: any) => c.image)).toEqual([CONTROLLER_IMAGE]);
        const r = world.kubelet.pod(ns(), pod.metadata.name)!;
        expect(r.ip).toBe(pod.status.podIP);
        expect(r.proc!.alive()).toBe(true);
        expect(r.exits).toEqual([]);
        const log = logOf(r);
        expect(log).toContain("NGINX Ingress Controller Version=5.5.4");
        // Its first probe ran as it started, before it could answer 200; Ready came from a 200 later.
        expect(r.probes[0]).not.toBe(200);
        expect(r.probes).toContain(200);
        // The pod's address is in the pod range, never in the range set-real-ip-from trusts.
        expect(configMapData(settings)["set-real-ip-from"].split(",")).not.toContain(`${r.ip}/32`);
        expect(r.ip.startsWith("192.0.2.")).toBe(true);
        expect(Number(r.ip.split(".")[3])).toBeGreaterThanOrEqual(128);
      }
    });

    it("kube-proxy programs NodePorts 30111/30112 with externalTrafficPolicy Local from the program's Service", async () => {
      const slices = (await world.api.get(`/apis/discovery.k8s.io/v1/namespaces/${ns()}/endpointslices?labelSelector=kubernetes.io/service-name=${settings.serviceName}`)).items;
      const endpoints = slices.flatMap((s: any) => s.endpoints);
      expect(endpoints.map((e: any) => [e.nodeName, e.conditions.ready]).sort()).toEqual([
        ["node-1", true],
        ["node-2", true],
        ["node-3", true],
      ]);
      for (const node of world.nodes) {
        const rules = (await onHost(node.name, "iptables-save", ["-t", "nat"])).stdout;
        const own = runningOn(node.name);
        for (const port of [30111, 30112]) {
          const ext = new RegExp(`-A KUBE-NODEPORTS -d ${node.address.replace(/\./g, "\\.")}/32 -p tcp -m comment --comment "${ns()}/${settings.serviceName}:(http|https)" -m tcp --dport ${port} -j (KUBE-EXT-\\S+)`).exec(rules);
          expect(ext, `NodePort ${port} on ${node.name}`).not.toBeNull();
          // Local: the external chain goes to the node's own endpoint only (no SNAT rule in between).
          const chain = ext![2];
          const extRules = rules.split("\n").filter((l) => l.startsWith(`-A ${chain} `));
          expect(extRules.some((l) => l.includes("KUBE-MARK-MASQ"))).toBe(false);
          const target = extRules.map((l) => / -j (KUBE-SVL-\S+)/.exec(l)?.[1]).find(Boolean);
          expect(target, `${chain} on ${node.name}`).toBeDefined();
          const dnat = rules.split("\n").filter((l) => l.startsWith("-A KUBE-SEP-") && l.includes("DNAT")).map((l) => / --to-destination (\S+)/.exec(l)![1]);
          expect(dnat).toContain(`${own.ip}:${ext![1] === "http" ? 80 : 443}`);
        }
      }
    });
  });

  describe("client -> HAProxy -> NodePort -> kube-proxy -> real controller -> echo app", () => {
    for (const scheme of ["http", "https"] as const) {
      for (const lbIndex of [0, 1]) {
        it(`${scheme} via lb-${lbIndex + 1}: the app and the access log see the client's address, even when the client sends its own X-Forwarded-For`, async () => {
          const lb = world.hosts.loadBalancers[lbIndex];
          for (const spoof of [false, true]) {
            const path = uniquePath(`${scheme}-${lbIndex}-${spoof ? "spoof" : "plain"}`);
            const headers: Record<string, string> = spoof ? { "X-Forwarded-For": SPOOFED, "X-Real-IP": SPOOFED } : {};
            const url = scheme === "http" ? `http://${lb.address}${path}` : `https://${HOST}${path}`;
            const r = await request(CLIENT, url, { headers, lbAddress: lb.address });
            expect(r.code, r.raw).toBe(200);
            expect(r.body.url).toBe(path);
            expect(r.body.headers["x-real-ip"]).toBe(CLIENT_ADDR);
            // The entry the controller added (the last one) is the client's address. Whether a client's own
            // header survives in front of it is defect 1 (below).
            const xff = (r.body.headers["x-forwarded-for"] as string).split(/,\s*/);
            expect(xff.at(-1)).toBe(CLIENT_ADDR);
            if (!spoof) expect(xff).toEqual([CLIENT_ADDR]);
            // The app's peer is a controller pod (no SNAT between the controller and the app either).
            const served = await until(`the access-log line for ${path}`, async () => {
              const l = accessLines(path);
              return l.length ? l : undefined;
            }, 5000);
            expect(served.map((l) => l.remoteAddr)).toEqual([CLIENT_ADDR]);
            expect(r.body.peer).toBe(runningOn(served[0].node).ip);
            expect(served[0].xff).toBe(spoof ? SPOOFED : "-");
          }
        });
      }
    }

    it("a forged PROXY header sent straight to a NodePort by a non-LB host is not trusted: the controller uses the real peer", async () => {
      const node = world.hosts.nodes[0];
      const path = uniquePath("forged");
      const payload = `PROXY TCP4 ${SPOOFED} ${node.address} 40000 30111\r\nGET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`;
      const r = await onHost(CLIENT, process.execPath, [join(ROOT, "test/netns/rawsend.mjs"), JSON.stringify({ host: node.address, port: 30111, payload, timeoutMs: 3000 })]);
      const out = JSON.parse(r.stdout);
      expect(out.connected).toBe(true);
      expect(out.response).toMatch(/^HTTP\/1\.1 200 /);
      const body = JSON.parse(out.response.split("\r\n\r\n")[1]);
      expect(body.headers["x-real-ip"]).toBe(CLIENT_ADDR);
      expect(body.headers["x-forwarded-for"]).toBe(CLIENT_ADDR);
      expect(accessLines(path).map((l) => [l.node, l.remoteAddr])).toEqual([[node.name, CLIENT_ADDR]]);
    });

    it("without a PROXY header the controller answers nothing (kube-proxy delivered it: the connection opens)", async () => {
      const node = world.hosts.nodes[0];
      const r = await onHost(CLIENT, process.execPath, [join(ROOT, "test/netns/rawsend.mjs"), JSON.stringify({ host: node.address, port: 30111, payload: `GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, timeoutMs: 3000 })]);
      expect(JSON.parse(r.stdout)).toEqual({ connected: true, response: "", error: "" });
    });

    it("HAProxy's health check gets 200 from /nginx-health through PROXY: every node UP on both LBs", async () => {
      for (const lb of world.hosts.loadBalancers) {
        expect(await serverStates(lb)).toEqual(
          Object.fromEntries(["http-nodeport", "https-nodeport"].flatMap((b) => ["node-1", "node-2", "node-3"].map((n) => [`${b}/${n}`, "UP"]))),
        );
        for (const node of world.hosts.nodes) {
          const r = await onHost(lb.name, "curl", ["-s", "--max-time", "3", "--haproxy-protocol", "-w", " %{http_code}", `http://${node.address}:30111/nginx-health`]);
          expect(r.stdout).toBe("healthy\n 200");
        }
      }
    });
  });

  describe("a node's controller pod becomes unready", () => {
    it("kube-proxy stops delivering there (Local), HAProxy marks the node DOWN, and no request fails after the detection window", async () => {
      const hc = settings.haproxy.healthCheck;
      const lb = world.hosts.loadBalancers[0];
      const victim = runningOn("node-2");
      const pod = (await controllerPods()).find((p) => p.spec.nodeName === "node-2");
      const probe = pod.spec.containers[0].readinessProbe;
      // Load through lb-1 for long enough to cover: the kubelet's probe failures, then HAProxy's checks.
      const unreadyWithinMs = (probe.periodSeconds * probe.failureThreshold + probe.timeoutSeconds) * 1000;
      // HAProxy: `fall` failed checks, each at most inter + connect timeout; plus kube-proxy's resync
      // after the EndpointSlice change (minSyncPeriod 0 here), 1 s margin for the API round trips.
      const detectionMs = hc.fall * (hc.interMs + settings.haproxy.timeouts.connectMs) + 1000;
      const runId = `failover${Date.now().toString(36)}`;
      const rate = 20;
      const count = Math.ceil(((unreadyWithinMs + detectionMs) / 1000 + 10) * rate);
      const loading = load(CLIENT, { target: lb.address, count, rateHz: rate, concurrency: 16, runId, timeoutMs: 10_000 });

      await new Promise((r) => setTimeout(r, 2000)); // some traffic to all three nodes first
      // Freeze only the controller's own process: its /nginx-ready stops answering, its nginx keeps serving.
      const frozenAt = Date.now();
      process.kill(victim.proc!.pid, "SIGSTOP");
      try {
        await until("node-2's pod unready in the API", async () => !isReady((await controllerPods()).find((p) => p.spec.nodeName === "node-2")), unreadyWithinMs + 2000, 100);
        const unreadyAt = Date.now();
        const downAt = await until("node-2 DOWN on lb-1", async () => {
          const st = await serverStates(lb);
          return st["http-nodeport/node-2"].startsWith("DOWN") && st["https-nodeport/node-2"].startsWith("DOWN") ? Date.now() : undefined;
        }, detectionMs + 5000, 50);
        expect(downAt - unreadyAt).toBeLessThanOrEqual(detectionMs);
        // kube-proxy drops at node-2's NodePort, although its nginx still answers at the pod address.
        const node2 = world.hosts.nodes.find((n) => n.name === "node-2")!;
        expect(await onHost(lb.name, "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", "--haproxy-protocol", `http://${node2.address}:30111/nginx-health`])).toMatchObject({ stdout: "000" });
        const direct = await onHost("node-2", "curl", ["-s", "--max-time", "2", "--haproxy-protocol", "-w", " %{http_code}", `http://${victim.ip}:80/nginx-health`]);
        expect(direct.stdout).toBe("healthy\n 200");
        const result = await loading;
        const afterWindow = result.results.filter((q) => q.startMs > downAt);
        expect(afterWindow.length).toBeGreaterThan(rate * 3);
        expect(afterWindow.filter((q) => q.status !== 200).map((q) => `${q.i}: ${q.status} ${q.error}`)).toEqual([]);
        console.log(
          `failover: frozen -> unready ${unreadyAt - frozenAt} ms (bound ${unreadyWithinMs}), unready -> DOWN ${downAt - unreadyAt} ms (bound ${detectionMs}); ` +
            `requests ${result.sent}, failed ${result.failed} (all before the node was DOWN: ${result.results.filter((q) => q.status !== 200).every((q) => q.startMs <= downAt)})`,
        );
      } finally {
        process.kill(victim.proc!.pid, "SIGCONT");
      }
      await until("node-2's pod Ready again", async () => isReady((await controllerPods()).find((p) => p.spec.nodeName === "node-2")), 30_000, 200);
      await waitAllServers(lb, "UP", 30_000);
    });
  });

  // The controller defects of issue 12, on the real controller. Their fixes are in components/controller
  // (another branch); until it is merged here these run only with IHP_REAL_CONTROLLER_FIXES=1 (README).
  describe.runIf(FIXES)("issue 12's controller defects, on the real controller", () => {
    it("1. with forwardedHeaders: ignore, a client's own X-Forwarded-For never reaches the app: the header is exactly the client's address", async () => {
      for (const lb of world.hosts.loadBalancers) {
        for (const scheme of ["http", "https"] as const) {
          const path = uniquePath(`d1-${scheme}`);
          const url = scheme === "http" ? `http://${lb.address}${path}` : `https://${HOST}${path}`;
          const r = await request(CLIENT, url, { headers: { "X-Forwarded-For": SPOOFED }, lbAddress: lb.address });
          expect(r.code, r.raw).toBe(200);
          expect([r.body.headers["x-forwarded-for"], r.body.headers["x-real-ip"]]).toEqual([CLIENT_ADDR, CLIENT_ADDR]);
        }
      }
    });

    it("6. the program's RBAC is all the controller needs: no request of any controller was forbidden", () => {
      const forbidden = [...world.kubelet.pods.values()].filter((p) => p.key.startsWith(`${ns()}/`)).flatMap((p) => logOf(p).split("\n").filter((l) => /forbidden|cannot (get|list|watch|update|create|patch) resource/i.test(l)));
      expect(forbidden).toEqual([]);
    });

    it("4. telemetry to F5 is off: every controller runs with -enable-telemetry-reporting=false", () => {
      for (const p of [...world.kubelet.pods.values()].filter((r) => r.key.startsWith(`${ns()}/`))) {
        const argv = readFileSync(`/proc/${p.proc!.pid}/cmdline`, "utf8").split("\0");
        expect(argv.filter((a) => a.startsWith("-enable-telemetry-reporting"))).toEqual(["-enable-telemetry-reporting=false"]);
      }
    });

    it("2. with forwardedHeaders: trust, a client's X-Forwarded-For still never becomes the client's address", async () => {
      ok(await pulumi("config", "set", "--path", "controller.forwardedHeaders", "trust"));
      try {
        ok(await pulumi("up", "--yes", "--skip-preview"));
        const cm = await world.api.get(`/api/v1/namespaces/${ns()}/configmaps/${settings.configMapName}`);
        const trusted = parseSettings({ ...raw, controller: { ...raw.controller, forwardedHeaders: "trust" } }, { sshPrivateKey: true });
        expect(cm.data).toEqual(configMapData(trusted));
        for (const lb of world.hosts.loadBalancers) {
          for (const scheme of ["http", "https"] as const) {
            const path = uniquePath(`d2-${scheme}`);
            const url = scheme === "http" ? `http://${lb.address}${path}` : `https://${HOST}${path}`;
            // The controllers reload nginx on the ConfigMap change: wait until this path is served at all.
            const r = await until(`${url} served after the reload`, async () => {
              const x = await request(CLIENT, url, { headers: { "X-Forwarded-For": SPOOFED, "X-Real-IP": SPOOFED }, lbAddress: lb.address });
              return x.code === 200 ? x : undefined;
            }, 15_000, 300);
            expect(r.body.headers["x-real-ip"]).toBe(CLIENT_ADDR);
            // (every attempt of the wait above is logged, each with the client's address)
            expect([...new Set(accessLines(path).map((l) => l.remoteAddr))]).toEqual([CLIENT_ADDR]);
          }
        }
      } finally {
        ok(await pulumi("config", "set", "--path", "controller.forwardedHeaders", "ignore"));
        ok(await pulumi("up", "--yes", "--skip-preview"));
      }
    });
  });
});
