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
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { configMapData, ingressClassManifest, rbacManifests, selectorLabels } from "../../../components/controller/manifests";
import { parseSettings, type Settings } from "../../../components/settings";
import { load, type LoadRequest, onHost, serverStates, waitAllServers } from "../../netns/harness";
import { type PulumiProject, type PulumiResult, pulumiProject } from "../pulumi-cli";
import { type AccessLine, accessLines, configApplied, forbiddenLines, headerLines, logOf, logSince } from "./controller-logs";
import { echoAppYaml, HOST } from "./echo-app";
import { CONTROLLER_IMAGE, ROOT, type World, until, worldUp } from "./environment";
import type { Probe, RunningPod } from "./kubelet-standin";

const STACK = "realctl";
const PROJECT = "ingress-haproxy";
const CLIENT = "client-1";
const CLIENT_ADDR = "203.0.113.10";
/** What a client claims to be (in X-Forwarded-For, X-Real-IP or a forged PROXY header): not its address. */
const SPOOFED = "203.0.113.66";
/** Debian's nginx has the stream module as a dynamic module; the controller's main template needs `stream {}`. */
const DEBIAN_STREAM_MODULE = { "main-snippets": "load_module modules/ngx_stream_module.so;" };
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
const podReadyOn = async (node: string): Promise<boolean> => isReady((await controllerPods()).find((p) => p.spec.nodeName === node));
/** The controller pods' running processes (the stand-in's view). */
const running = (): RunningPod[] => [...world.kubelet.pods.values()].filter((p) => p.key.startsWith(`${ns()}/`));
const runningOn = (node: string): RunningPod => {
  const p = running().find((r) => r.node === node);
  if (!p) throw new Error(`no controller pod running on ${node}`);
  return p;
};
const served = (path: string): AccessLine[] => accessLines(running(), path);
const configMapPath = () => `/api/v1/namespaces/${ns()}/configmaps/${settings.configMapName}`;

/**
 * The f5 liveness probe the program rendered before defect 3's fix (`git show 142ab34^:components/controller/manifests.ts`):
 * /nginx-ready on the probe port, 10 s initial delay, every 10 s, 1 s timeout, 5 failures.
 */
const PRE_FIX_LIVENESS: Probe = { path: "/nginx-ready", port: 8081, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 5, successThreshold: 1 };

/** The X-Forwarded-For lines the program makes the controller send (defect 1's fix): the PROXY address first. */
const fixedForwardedFor = (clientSent?: string): string[] => [CLIENT_ADDR, clientSent ? `${clientSent}, ${CLIENT_ADDR}` : CLIENT_ADDR];

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

const uniquePath = (label: string) => `/t/${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const urlVia = (scheme: "http" | "https", lbAddress: string, path: string) => (scheme === "http" ? `http://${lbAddress}${path}` : `https://${HOST}${path}`);

/** The access-log line(s) of `path` once the controller wrote them (nginx writes after answering). */
const servedLines = (path: string): Promise<AccessLine[]> =>
  until(`the access-log line for ${path}`, async () => {
    const l = served(path);
    return l.length ? l : undefined;
  }, 5000);

/**
 * Sets ConfigMap keys behind the program's back (null removes one), waits until every controller
 * applied it, runs `fn`, then restores exactly what the program deployed and waits again.
 */
async function withConfigMap(keys: Record<string, string | null>, fn: () => Promise<void>): Promise<void> {
  const apply = async (data: Record<string, string | null>) => {
    const before = configApplied(running(), `${ns()}/${settings.configMapName}`);
    await world.api.patch(configMapPath(), { data });
    await until("every controller applied the ConfigMap", async () => [...configApplied(running(), `${ns()}/${settings.configMapName}`)].every(([k, n]) => n > (before.get(k) ?? 0)), 20_000, 200);
  };
  await apply(keys);
  try {
    await fn();
  } finally {
    await apply({ ...Object.fromEntries(Object.keys(keys).map((k) => [k, null])), ...configMapData(settings) });
    expect((await world.api.get(configMapPath())).data).toEqual(configMapData(settings));
  }
}

describe("the real controller and kube-proxy, deployed by pulumi up", () => {
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
        const rules = (await onHost(node.name, "iptables-save", ["-t", "nat"])).stdout.split("\n");
        const own = runningOn(node.name);
        // NodePorts on the node's own address only (nodePortAddresses).
        expect(rules.filter((l) => l.endsWith("-j KUBE-NODEPORTS"))).toEqual([
          `-A KUBE-SERVICES -d ${node.address}/32 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS`,
        ]);
        for (const [port, name, target] of [[30111, "http", 80], [30112, "https", 443]] as const) {
          const svc = `${ns()}/${settings.serviceName}:${name}`;
          const ext = rules.map((l) => new RegExp(`^-A KUBE-NODEPORTS -p tcp -m comment --comment "${svc}" -m tcp --dport ${port} -j (KUBE-EXT-\\S+)$`).exec(l)?.[1]).filter(Boolean);
          expect(ext, `NodePort ${port} on ${node.name}`).toHaveLength(1);
          // Local: traffic from outside goes to the node's own endpoints only (KUBE-SVL), never SNATed;
          // the masquerade rules there are for traffic the node itself originates.
          const extRules = rules.filter((l) => l.startsWith(`-A ${ext[0]} `));
          expect(extRules.filter((l) => l.includes("KUBE-MARK-MASQ")).every((l) => l.includes("--src-type LOCAL"))).toBe(true);
          const local = /^-A \S+ -j (KUBE-SVL-\S+)$/.exec(extRules.at(-1)!);
          expect(local, extRules.join("\n")).not.toBeNull();
          const seps = rules.filter((l) => l.startsWith(`-A ${local![1]} `)).map((l) => / -j (KUBE-SEP-\S+)$/.exec(l)![1]);
          const dnat = seps.flatMap((sep) => rules.filter((l) => l.startsWith(`-A ${sep} `) && l.includes("-j DNAT")).map((l) => / --to-destination (\S+)$/.exec(l)![1]));
          expect(dnat).toEqual([`${own.ip}:${target}`]);
        }
      }
    });
  });

  describe("client -> HAProxy -> NodePort -> kube-proxy -> real controller -> echo app", () => {
    for (const scheme of ["http", "https"] as const) {
      for (const lbIndex of [0, 1]) {
        it(`${scheme} via lb-${lbIndex + 1}: the app and the access log see the client's address, also when the client sends its own X-Forwarded-For and X-Real-IP`, async () => {
          const lb = world.hosts.loadBalancers[lbIndex];
          for (const spoof of [false, true]) {
            const path = uniquePath(`${scheme}-${lbIndex}-${spoof ? "spoof" : "plain"}`);
            const r = await request(CLIENT, urlVia(scheme, lb.address, path), { headers: spoof ? { "X-Forwarded-For": SPOOFED, "X-Real-IP": SPOOFED } : {}, lbAddress: lb.address });
            expect(r.code, r.raw).toBe(200);
            expect(r.body.url).toBe(path);
            expect(headerLines(r.body, "x-real-ip")).toEqual([CLIENT_ADDR]);
            // The leftmost entry (what an app that reads the first one takes) and the entry the controller
            // appended (the trusted one) are both the PROXY header's address; a client's own entries sit in between.
            expect(headerLines(r.body, "x-forwarded-for")).toEqual(fixedForwardedFor(spoof ? SPOOFED : undefined));
            const lines = await servedLines(path);
            expect(lines.map((l) => [l.remoteAddr, l.xff])).toEqual([[CLIENT_ADDR, spoof ? SPOOFED : "-"]]);
            // The app's peer is the controller pod that logged it (no SNAT between controller and app either).
            expect(r.body.peer).toBe(runningOn(lines[0].node).ip);
          }
        });
      }
    }

    it("a forged PROXY header sent straight to a NodePort by a non-LB host is not trusted: the controller uses the real peer", async () => {
      const node = world.hosts.nodes[0];
      const path = uniquePath("forged");
      // HTTP/1.0: the answer comes unchunked, its body is the echo app's JSON as is.
      const payload = `PROXY TCP4 ${SPOOFED} ${node.address} 40000 30111\r\nGET ${path} HTTP/1.0\r\nHost: ${HOST}\r\n\r\n`;
      const r = await onHost(CLIENT, process.execPath, [join(ROOT, "test/netns/rawsend.mjs"), JSON.stringify({ host: node.address, port: 30111, payload, timeoutMs: 3000 })]);
      const out = JSON.parse(r.stdout);
      expect(out.connected).toBe(true);
      expect(out.response).toMatch(/^HTTP\/1\.1 200 /);
      const body = JSON.parse(out.response.slice(out.response.indexOf("\r\n\r\n") + 4));
      expect(headerLines(body, "x-real-ip")).toEqual([CLIENT_ADDR]);
      expect(headerLines(body, "x-forwarded-for")).toEqual(fixedForwardedFor());
      expect((await servedLines(path)).map((l) => [l.node, l.remoteAddr])).toEqual([[node.name, CLIENT_ADDR]]);
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
      // The kubelet's probe failures: failureThreshold probes, each up to periodSeconds apart plus its timeout.
      const unreadyWithinMs = (probe.periodSeconds * probe.failureThreshold + probe.timeoutSeconds) * 1000;
      // HAProxy: `fall` failed checks, each at most inter + connect timeout; plus kube-proxy's resync
      // after the EndpointSlice change (minSyncPeriod 0 here); margin 1 s for the API round trips.
      const detectionMs = hc.fall * (hc.interMs + settings.haproxy.timeouts.connectMs) + 1000;
      const runId = `failover${Date.now().toString(36)}`;
      const rate = 20;
      // Load through lb-1 for long enough to cover the probe failures, HAProxy's checks, then 10 s more.
      const count = Math.ceil(((unreadyWithinMs + detectionMs) / 1000 + 12) * rate);
      const loading = load(CLIENT, { target: lb.address, count, rateHz: rate, concurrency: 16, runId, timeoutMs: 10_000 });

      // Some traffic reaches all three nodes first: wait until node-2 logged a request of this run.
      await until("load reaching node-2", async () => logOf(victim).includes(`/load/${runId}/`), 10_000, 100);
      // Freeze only the controller's own process: its /nginx-ready stops answering, its nginx keeps serving.
      const frozenAt = Date.now();
      process.kill(victim.proc!.pid, "SIGSTOP");
      try {
        await until("node-2's pod unready in the API", async () => !(await podReadyOn("node-2")), unreadyWithinMs + 2000, 100);
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
            `requests ${result.sent}, failed ${result.failed} (all before the node was DOWN: ${result.results.filter((q) => q.status !== 200).every((q) => q.startMs <= downAt)}), after DOWN ${afterWindow.length}`,
        );
      } finally {
        process.kill(victim.proc!.pid, "SIGCONT");
      }
      await until("node-2's pod Ready again", () => podReadyOn("node-2"), 30_000, 200);
      await waitAllServers(lb, "UP", 30_000);
    });
  });

  // The controller defects of issue 12 (fixed in components/controller), each shown on the real
  // controller with the fix and, with the pre-fix variant rendered here, without it.
  describe("issue 12's controller defects, on the real controller", () => {
    it("6. the program's RBAC is all the controller needs: no request of any controller was forbidden", () => {
      const pods = running();
      expect(pods).toHaveLength(3);
      for (const p of pods) {
        expect(logOf(p)).toContain(`Pod label updated: ${p.key.split("/")[1]}`);
        expect(forbiddenLines(logOf(p))).toEqual([]);
      }
    });

    it("1. with forwardedHeaders: ignore, a client's own X-Forwarded-For is never the leftmost entry; without the fix's location-snippets it is", async () => {
      const send = async (label: string) => {
        const lb = world.hosts.loadBalancers[0];
        const path = uniquePath(label);
        const r = await request(CLIENT, urlVia("http", lb.address, path), { headers: { "X-Forwarded-For": SPOOFED }, lbAddress: lb.address });
        expect(r.code, r.raw).toBe(200);
        return headerLines(r.body, "x-forwarded-for");
      };
      for (const lb of world.hosts.loadBalancers) {
        for (const scheme of ["http", "https"] as const) {
          const path = uniquePath(`d1-${scheme}`);
          const r = await request(CLIENT, urlVia(scheme, lb.address, path), { headers: { "X-Forwarded-For": SPOOFED }, lbAddress: lb.address });
          expect(r.code, r.raw).toBe(200);
          expect(headerLines(r.body, "x-forwarded-for")).toEqual(fixedForwardedFor(SPOOFED));
        }
      }
      // Counterfactual: the ConfigMap as rendered before the fix (no location-snippets).
      await withConfigMap({ "location-snippets": null }, async () => {
        expect(await send("d1-prefix")).toEqual([`${SPOOFED}, ${CLIENT_ADDR}`]);
      });
      expect(await send("d1-restored")).toEqual(fixedForwardedFor(SPOOFED));
    });

    it("2. forwardedHeaders: trust is refused with f5 before anything changes; the pre-fix rendering of trust let any client choose its address", async () => {
      ok(await pulumi("config", "set", "--path", "controller.forwardedHeaders", "trust"));
      try {
        const r = await pulumi("up", "--yes", "--skip-preview");
        expect(r.status).not.toBe(0);
        expect(r.out).toContain('"trust" is refused with flavour f5');
        expect((await world.api.get(configMapPath())).data).toEqual(configMapData(settings));
      } finally {
        ok(await pulumi("config", "set", "--path", "controller.forwardedHeaders", "ignore"));
      }
      // Counterfactual: the keys the program rendered for f5 + trust before the fix.
      await withConfigMap({ "real-ip-header": "X-Forwarded-For", "real-ip-recursive": "True" }, async () => {
        const lb = world.hosts.loadBalancers[0];
        const path = uniquePath("d2-prefix");
        const r = await request(CLIENT, urlVia("http", lb.address, path), { headers: { "X-Forwarded-For": SPOOFED }, lbAddress: lb.address });
        expect(r.code, r.raw).toBe(200);
        expect(headerLines(r.body, "x-real-ip")).toEqual([SPOOFED]);
        expect((await servedLines(path)).map((l) => l.remoteAddr)).toEqual([SPOOFED]);
      });
    });

    it("4. telemetry to F5 is off: every controller runs with -enable-telemetry-reporting=false, which the binary otherwise defaults to true", () => {
      for (const p of running()) {
        const argv = readFileSync(`/proc/${p.proc!.pid}/cmdline`, "utf8").split("\0");
        expect(argv.filter((a) => a.startsWith("-enable-telemetry-reporting"))).toEqual(["-enable-telemetry-reporting=false"]);
      }
      // Counterfactual: the same binary's own default, without the program's flag.
      const help = spawnSync(join(world.bins.nginxIngress, "bin/nginx-ingress"), ["-help"], { encoding: "utf8", timeout: 10_000 });
      expect(help.stderr).toMatch(/\n\s+-enable-telemetry-reporting\n\s+[^\n]*\(default true\)\n/);
    });

    it("5. the DaemonSet depends on its IngressClass: no controller ever exited; without the class one crash-loops until it exists", async () => {
      const state = JSON.parse(ok(await pulumi("stack", "export")).stdout);
      const resources: any[] = state.deployment.resources;
      const urnOf = (type: string) => resources.filter((r) => r.type === type).map((r) => r.urn);
      const [ds] = resources.filter((r) => r.type === "kubernetes:apps/v1:DaemonSet");
      expect(ds.dependencies).toEqual(expect.arrayContaining(urnOf("kubernetes:networking.k8s.io/v1:IngressClass")));
      expect(urnOf("kubernetes:networking.k8s.io/v1:IngressClass")).toHaveLength(1);
      for (const p of running()) expect(p.exits, p.key).toEqual([]);

      // Counterfactual: the class missing when a controller starts (a first deploy without the dependency).
      const victim = runningOn("node-3");
      const classPath = `/apis/networking.k8s.io/v1/ingressclasses/${settings.controller.ingressClassName}`;
      const offset = logOf(victim).length;
      await world.api.delete(classPath);
      await until("the IngressClass gone", async () => (await world.api.find(classPath)) === undefined, 10_000);
      try {
        await world.kubelet.restartContainer(victim);
        const missing = `Error when getting IngressClass ${settings.controller.ingressClassName}`;
        await until("two starts that exited on the missing IngressClass", async () => logSince(victim, offset).split(missing).length - 1 >= 2, 30_000, 200);
        expect(await podReadyOn("node-3")).toBe(false);
      } finally {
        await world.api.post("/apis/networking.k8s.io/v1/ingressclasses", ingressClassManifest(settings));
      }
      await until("node-3's pod Ready again once its IngressClass exists", () => podReadyOn("node-3"), 60_000, 200);
      for (const lb of world.hosts.loadBalancers) await waitAllServers(lb, "UP", 30_000);
    });

    it("3. no liveness probe on /nginx-ready: a controller whose first sync outlasts the pre-fix probe is not killed; with that probe it is", async () => {
      const [ds] = (await world.api.get(`/apis/apps/v1/namespaces/${ns()}/daemonsets`)).items;
      const [container] = ds.spec.template.spec.containers;
      expect(container.livenessProbe).toBeUndefined();
      expect(container.readinessProbe.httpGet).toEqual({ path: "/nginx-ready", port: 8081, scheme: "HTTP" });
      // node-3's pod as deployed; node-1's pod with the pre-fix liveness probe added (counterfactual).
      const fixed = runningOn("node-3");
      const preFix = runningOn("node-1");
      const p = PRE_FIX_LIVENESS;
      // The pre-fix probe kills after its initial delay and failureThreshold failed probes a period apart.
      const killedWithinMs = (p.initialDelaySeconds + p.periodSeconds * (p.failureThreshold - 1) + p.timeoutSeconds) * 1000;
      // The slow first sync lasts one probe period longer than that.
      const slowSyncMs = killedWithinMs + p.periodSeconds * 1000;
      // Hold the first sync back: the informers' list of configmaps, pods and secrets is refused (as a slow
      // or failing list would), so the caches never fill and /nginx-ready answers 503; the process runs.
      const clusterRole = rbacManifests(settings).find((o) => o.kind === "ClusterRole")! as any;
      const rolePath = `/apis/rbac.authorization.k8s.io/v1/clusterroles/${clusterRole.metadata.name}`;
      const rules: any[] = clusterRole.rules;
      const held = rules.filter((r) => !(r.resources.includes("secrets") && r.verbs.includes("list")));
      expect(held).toHaveLength(rules.length - 1);
      const exits = [fixed.exits.length, preFix.exits.length];
      const fromProbe = fixed.probes.length;
      world.kubelet.setLivenessProbe(preFix, p);
      await world.api.patch(rolePath, { rules: held });
      let fixedProc: unknown;
      try {
        await Promise.all([fixed, preFix].map((r) => world.kubelet.restartContainer(r)));
        const startedAt = Date.now();
        fixedProc = fixed.proc;
        const preFixStartedAt = preFix.startedAt;
        const killedAt = await until("the pre-fix liveness probe killing node-1's controller", async () => (preFix.livenessKills === 1 ? Date.now() : undefined), killedWithinMs + 3000, 100);
        // Not before its delay and failureThreshold failures (preFixStartedAt: when the stand-in spawned it).
        expect(killedAt - preFixStartedAt).toBeGreaterThanOrEqual((p.initialDelaySeconds + p.periodSeconds * (p.failureThreshold - 1)) * 1000);
        await until("the slow first sync's end", async () => Date.now() - startedAt >= slowSyncMs, slowSyncMs + 1000, 200);
        expect([fixed.proc, fixed.exits.length, fixed.livenessKills]).toEqual([fixedProc, exits[0] + 1, 0]);
        const probed = fixed.probes.slice(fromProbe);
        expect(probed).toContain(503);
        expect(probed.filter((c) => c === 200)).toEqual([]);
      } finally {
        await world.api.patch(rolePath, { rules });
        world.kubelet.setLivenessProbe(preFix, undefined);
      }
      expect((await world.api.get(rolePath)).rules).toEqual(rules);
      // The informers retry their list with client-go's back-off (up to 30 s, jittered up to twice that).
      await until("both pods Ready once their first sync completes", async () => (await podReadyOn("node-3")) && (await podReadyOn("node-1")), 90_000, 200);
      expect([fixed.proc, fixed.exits.length]).toEqual([fixedProc, exits[0] + 1]);
      expect(preFix.exits.length).toBeGreaterThanOrEqual(exits[1] + 2);
      for (const lb of world.hosts.loadBalancers) await waitAllServers(lb, "UP", 30_000);
    });

    it("6. without the fix's `pods update` rule the controller's start is refused (counterfactual of the test above)", async () => {
      const role = rbacManifests(settings).find((o) => o.kind === "Role")!;
      const rolePath = `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns()}/roles/${role.metadata.name}`;
      const rules: any[] = (role as any).rules;
      const preFix = rules.filter((r) => !(r.resources.includes("pods") && r.verbs.includes("update")));
      expect(preFix).toHaveLength(rules.length - 1);
      const victim = runningOn("node-3");
      const offset = logOf(victim).length;
      await world.api.patch(rolePath, { rules: preFix });
      try {
        await world.kubelet.restartContainer(victim);
        const refused = await until("the controller refused its pod update", async () => forbiddenLines(logSince(victim, offset)).find((l) => l.includes('cannot update resource "pods"')), 30_000, 200);
        expect(refused).toContain("Error updating pod with labels on attempt 1 of");
      } finally {
        await world.api.patch(rolePath, { rules });
      }
      expect((await world.api.get(rolePath)).rules).toEqual(rules);
      await until("node-3's pod Ready again", () => podReadyOn("node-3"), 60_000, 200);
      for (const lb of world.hosts.loadBalancers) await waitAllServers(lb, "UP", 30_000);
    });
  });

  describe("a controller rollout by `pulumi up`", () => {
    it("replaces the pods node by node (maxSurge 1, maxUnavailable 0) and not one request fails", async () => {
      const c = settings.controller;
      const ds = (await world.api.get(`/apis/apps/v1/namespaces/${ns()}/daemonsets`)).items[0];
      expect([ds.spec.updateStrategy, ds.spec.minReadySeconds]).toEqual([{ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } }, 5]);
      const old = new Map(running().map((p) => [p.key, p.node]));
      expect(old.size).toBe(3);
      const lb = world.hosts.loadBalancers[0];
      // A template change: the new pods' preStop sleeps a second less.
      const preStopSeconds = c.preStopSeconds - 1;
      // Load through lb-1 in 5 s rounds, back to back, until a round starts after the last old process
      // ended: it covers the whole rollout however long the engine takes around it.
      const rate = 20;
      const runId = `rollout${Date.now().toString(36)}`;
      const results: LoadRequest[] = [];
      // Set when the last old process ended (or, should the test fail first, to end the load at once).
      let stopLoadAfter = Number.POSITIVE_INFINITY;
      const loading = (async () => {
        for (let round = 0; ; round++) {
          const roundAt = Date.now();
          const r = await load(CLIENT, { target: lb.address, count: 5 * rate, rateHz: rate, concurrency: 16, runId: `${runId}-${round}`, timeoutMs: 10_000 });
          results.push(...r.results.map((q) => ({ ...q, error: `round ${round}: ${q.error}` })));
          if (roundAt > stopLoadAfter) return round + 1;
        }
      })();
      let upAt = 0;
      let stoppedAt = 0;
      try {
        await until("load reaching every node", async () => running().every((p) => logOf(p).includes(`/load/${runId}-`)), 10_000, 100);
        upAt = Date.now();
        ok(await pulumi("config", "set", "--path", "controller.preStopSeconds", String(preStopSeconds)));
        ok(await pulumi("up", "--yes", "--skip-preview"));
        stoppedAt = await until("every old pod's process ended (after its preStop)", async () => {
          const stopped = world.kubelet.events.filter((e) => e.kind === "stopped" && old.has(e.key));
          return stopped.length === old.size ? Math.max(...stopped.map((e) => e.at)) : undefined;
        }, (c.terminationGracePeriodSeconds + 5) * 1000, 200);
      } finally {
        stopLoadAfter = stoppedAt;
      }
      const rounds = await loading;
      expect(Math.min(...results.map((q) => q.startMs))).toBeLessThan(upAt);
      expect(Math.max(...results.map((q) => q.startMs))).toBeGreaterThan(stoppedAt);
      expect(results).toHaveLength(rounds * 5 * rate);
      expect(results.filter((q) => q.status !== 200).map((q) => `${q.i}: ${q.status} ${q.error}`)).toEqual([]);

      // Node by node: on each node a new pod started, then that node's old pod was deleted, before the
      // next node's new pod started.
      const steps = [...old].map(([key, node]) => {
        const started = world.kubelet.events.find((e) => e.kind === "started" && e.node === node && !old.has(e.key) && e.at >= upAt)!;
        const deleted = world.kubelet.events.find((e) => e.kind === "deleted" && e.key === key)!;
        return { node, started: started.at, deleted: deleted.at };
      }).sort((a, b) => a.started - b.started);
      for (const [i, s] of steps.entries()) {
        expect(s.deleted, s.node).toBeGreaterThan(s.started);
        if (i > 0) expect(s.started, s.node).toBeGreaterThanOrEqual(steps[i - 1].deleted);
      }
      const pods = await controllerPods();
      expect(pods.map((p) => [p.spec.nodeName, isReady(p), old.has(`${ns()}/${p.metadata.name}`)]).sort()).toEqual([
        ["node-1", true, false],
        ["node-2", true, false],
        ["node-3", true, false],
      ]);
      expect(pods.map((p) => p.spec.containers[0].lifecycle.preStop.exec.command)).toEqual(Array(3).fill(["sleep", String(preStopSeconds)]));
      await waitAllServers(lb, "UP", 30_000);
      console.log(
        `rollout: pulumi up + old pods ended in ${stoppedAt - upAt} ms; per node (started -> old deleted): ` +
          `${steps.map((s) => `${s.node} ${s.deleted - s.started} ms`).join(", ")}; requests ${results.length}, failed ${results.filter((q) => q.status !== 200).length}`,
      );
    });
  });
});
