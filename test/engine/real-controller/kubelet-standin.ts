// STAND-IN for the kubelet of the kwok nodes, for the pods whose containers the harness really runs.
// kwok (upstream) schedules nothing itself: the real DaemonSet/Deployment controllers create the pods,
// the real scheduler binds them, kwok gives them an address and phase Running but leaves them NOT Ready
// (../kwok-stages.ts). This loop then does the kubelet's part for them:
//   - creates the pod's sandbox (pod-sandbox-standin.ts) and starts the container's process: the real
//     binary built from the image's release (IMAGES below), with the container's args and env as the
//     kubelet expands them, POD_NAME/POD_NAMESPACE from the downward API, and a token of the pod's own
//     ServiceAccount from the TokenRequest API, bound to the pod;
//   - runs the container's readinessProbe (httpGet) from the node's namespace with its period, timeout
//     and thresholds, and writes the result into the pod's Ready/ContainersReady conditions, which the
//     real EndpointSlice controller and kube-proxy then follow;
//   - runs the container's livenessProbe (httpGet) the same way and, after failureThreshold failures in
//     a row, ends the process (SIGTERM, SIGKILL after 10 s) so that it is restarted;
//   - restarts a container whose process exits (restartPolicy Always), after a 2 s back-off;
//   - when the pod is gone from the API (kwok deletes a terminating pod at once, so its endpoint goes
//     first, as with a kubelet that reports the pod terminating): runs the container's preStop exec
//     command in the pod's namespaces, then SIGTERM, SIGKILL at the end of terminationGracePeriodSeconds,
//     and removes the sandbox.
// Not done: startup probes, resource limits, image pulls, back-off growth.
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { Api } from "./api";
import type { ApiRelay } from "./api-relay";
import { createSandbox, API_RELAY_PORT, type NodeNet, type Sandbox } from "./pod-sandbox-standin";
import type { Proc } from "./processes";

/** What runs for an image: the real binary from that image's release, and how the image runs it. */
export interface ImageRuntime {
  readonly command: string;
  /** Arguments before the container's own args (the image's ENTRYPOINT arguments). */
  readonly prefixArgs?: string[];
  readonly cwd: string;
  readonly uid: number;
  readonly nginxDirs: boolean;
}

export interface KubeletOptions {
  readonly api: Api;
  readonly relay: ApiRelay;
  readonly nodes: readonly NodeNet[];
  readonly namespaces: readonly string[];
  readonly images: Record<string, ImageRuntime>;
  readonly stateDir: string;
  readonly caCert: string;
  readonly log: (line: string) => void;
}

export interface Probe {
  path: string;
  initialDelaySeconds: number;
  port: number;
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
  successThreshold: number;
}

export interface RunningPod {
  readonly key: string;
  readonly uid: string;
  readonly node: string;
  readonly ip: string;
  readonly sandbox: Sandbox;
  readonly containerName: string;
  proc?: Proc;
  relay?: Proc;
  restarts: number;
  exits: (number | string)[];
  ready: boolean;
  /** Results of every readiness probe, oldest first (HTTP status, 0 = no answer). */
  probes: number[];
  /** The liveness probe the stand-in runs (the container's, or one a test set with setLivenessProbe). */
  livenessProbe?: Probe;
  /** How often the liveness probe ended the process. */
  livenessKills: number;
  /** The container's preStop exec command, and the pod's grace period (s). */
  readonly preStop?: string[];
  readonly graceSeconds: number;
  /** When the process was started last (ms). */
  startedAt: number;
  stopping: boolean;
}

const expand = (s: string, env: Record<string, string>) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, k) => env[k] ?? m);

export interface PodEvent {
  readonly at: number;
  readonly kind: "started" | "deleted" | "stopped";
  readonly key: string;
  readonly node: string;
}

export class KubeletStandin {
  readonly pods = new Map<string, RunningPod>();
  readonly errors: string[] = [];
  /** When each pod's process was first started, when its pod left the API, when its process ended. */
  readonly events: PodEvent[] = [];
  private timer?: NodeJS.Timeout;
  /** Teardowns of deleted pods still running their preStop hook. */
  private readonly teardowns = new Set<Promise<void>>();
  private busy = false;

  constructor(private readonly o: KubeletOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), 500);
  }

  /** The running pod `namespace/name`, or undefined. */
  pod(namespace: string, name: string): RunningPod | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }

  /**
   * Ends the container's process (SIGTERM) as a crash would; the restart loop starts it again after
   * its back-off. Resolves once the new process is running.
   */
  async restartContainer(p: RunningPod): Promise<void> {
    const old = p.proc;
    if (!old) throw new Error(`${p.key}: no process to restart`);
    const restarts = p.restarts;
    process.kill(old.pid, "SIGTERM");
    while (p.restarts === restarts || p.proc === old) {
      if (p.stopping) throw new Error(`${p.key}: removed while restarting`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 50));
    await Promise.all([...this.teardowns, ...[...this.pods.values()].map((p) => this.teardown(p, false))]);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const listed: any[] = [];
      for (const ns of this.o.namespaces) listed.push(...(await this.o.api.get(`/api/v1/namespaces/${ns}/pods`)).items);
      const live = listed.filter((pod) => !pod.metadata.deletionTimestamp);
      const current = new Set(live.map((pod) => `${pod.metadata.namespace}/${pod.metadata.name}/${pod.metadata.uid}`));
      // Pods gone first (a rollout's next pod then never seems to start before the last one left).
      // Not awaited: a preStop hook runs for seconds while the other pods are looked after.
      for (const p of [...this.pods.values()]) {
        if (current.has(`${p.key}/${p.uid}`)) continue;
        const t = this.teardown(p, true);
        this.teardowns.add(t);
        void t.finally(() => this.teardowns.delete(t));
      }
      for (const pod of live) {
        const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
        if (!this.pods.has(key) && pod.status?.phase === "Running" && pod.status.podIP && pod.spec.nodeName) await this.startPod(pod);
      }
    } catch (e) {
      this.errors.push(String(e));
    } finally {
      this.busy = false;
    }
  }

  private async startPod(pod: any): Promise<void> {
    const { namespace, name, uid } = pod.metadata;
    const key = `${namespace}/${name}`;
    const node = this.o.nodes.find((n) => n.name === pod.spec.nodeName);
    if (!node) throw new Error(`${key}: on unknown node ${pod.spec.nodeName}`);
    if (pod.spec.containers.length !== 1) throw new Error(`${key}: ${pod.spec.containers.length} containers; the stand-in runs exactly one`);
    const c = pod.spec.containers[0];
    const image = this.o.images[c.image];
    if (!image) throw new Error(`${key}: no runtime for image ${c.image} (known: ${Object.keys(this.o.images).join(", ")})`);
    const sandbox = createSandbox({
      uid,
      namespace,
      name,
      ip: pod.status.podIP,
      node,
      otherNodes: this.o.nodes.filter((n) => n !== node),
      dir: join(this.o.stateDir, "pods", `${namespace}_${name}`),
    });
    const token = await this.o.api.post(`/api/v1/namespaces/${namespace}/serviceaccounts/${pod.spec.serviceAccountName ?? "default"}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600, boundObjectRef: { apiVersion: "v1", kind: "Pod", name, uid } },
    });
    sandbox.writeServiceAccount(token.status.token, this.o.caCert, image.uid);
    const running: RunningPod = {
      key,
      uid,
      node: node.name,
      ip: pod.status.podIP,
      sandbox,
      containerName: c.name,
      restarts: 0,
      exits: [],
      ready: false,
      probes: [],
      livenessProbe: this.probeSpec(c, "livenessProbe"),
      livenessKills: 0,
      preStop: c.lifecycle?.preStop?.exec?.command,
      graceSeconds: pod.spec.terminationGracePeriodSeconds ?? 30,
      startedAt: 0,
      stopping: false,
    };
    this.pods.set(key, running);
    running.relay = this.o.relay.into(sandbox.netns, sandbox.dir);
    this.runContainer(running, pod, image);
    const probe = this.probeSpec(c, "readinessProbe");
    if (probe) this.probeLoop(running, pod, probe);
    this.events.push({ at: Date.now(), kind: "started", key, node: node.name });
    this.o.log(`kubelet-standin: started ${key} on ${node.name} at ${running.ip} (${c.image})`);
  }

  private runContainer(p: RunningPod, pod: any, image: ImageRuntime): void {
    const c = pod.spec.containers[0];
    const env: Record<string, string> = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(API_RELAY_PORT) };
    for (const e of c.env ?? []) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      if (field === "metadata.name") env[e.name] = pod.metadata.name;
      else if (field === "metadata.namespace") env[e.name] = pod.metadata.namespace;
      else if (e.value !== undefined) env[e.name] = expand(e.value, env);
      else throw new Error(`${p.key}: env ${e.name} uses a source the stand-in does not provide`);
    }
    const args = [...(image.prefixArgs ?? []), ...(c.args ?? []).map((a: string) => expand(a, env))];
    p.startedAt = Date.now();
    const proc = p.sandbox.run(c.name, image.command, args, { env, uid: image.uid, cwd: image.cwd, nginxDirs: image.nginxDirs, log: join(p.sandbox.dir, `${c.name}.log`) });
    p.proc = proc;
    this.livenessLoop(p, proc);
    void proc.exited.then(async (code) => {
      if (p.stopping || p.proc !== proc) return;
      p.exits.push(code);
      this.o.log(`kubelet-standin: ${p.key} ${c.name} exited (${code}); restarting in 2 s`);
      await this.setReady(p, false);
      setTimeout(() => {
        if (p.stopping) return;
        p.restarts++;
        this.runContainer(p, pod, image);
      }, 2000);
    });
  }

  /** Sets (or with undefined removes) the liveness probe of `p`; it applies from the process's next start. */
  setLivenessProbe(p: RunningPod, probe: Probe | undefined): void {
    p.livenessProbe = probe;
  }

  private probeSpec(c: any, kind: "readinessProbe" | "livenessProbe"): Probe | undefined {
    const r = c[kind];
    if (!r) return undefined;
    if (!r.httpGet) throw new Error(`container ${c.name}: the stand-in runs httpGet probes only (${kind})`);
    const port = typeof r.httpGet.port === "number" ? r.httpGet.port : c.ports?.find((p: any) => p.name === r.httpGet.port)?.containerPort;
    if (!port) throw new Error(`container ${c.name}: ${kind} port ${r.httpGet.port} not found`);
    return {
      path: r.httpGet.path ?? "/",
      initialDelaySeconds: r.initialDelaySeconds ?? 0,
      port,
      periodSeconds: r.periodSeconds ?? 10,
      timeoutSeconds: r.timeoutSeconds ?? 1,
      failureThreshold: r.failureThreshold ?? 3,
      successThreshold: r.successThreshold ?? 1,
    };
  }

  /**
   * Like the kubelet's prober: first probe at once, then one every periodSeconds (a ticker: a slow probe
   * does not push the next one back); thresholds on consecutive results.
   */
  private probeLoop(p: RunningPod, pod: any, probe: Probe): void {
    let failures = 0;
    let successes = 0;
    const node = this.o.nodes.find((n) => n.name === p.node)!;
    const once = async () => {
      if (p.stopping) return;
      const due = Date.now() + probe.periodSeconds * 1000;
      const code = await httpStatusFrom(node.netns, `http://${p.ip}:${probe.port}${probe.path}`, probe.timeoutSeconds);
      if (p.stopping) return;
      p.probes.push(code);
      if (code >= 200 && code < 400) {
        failures = 0;
        successes++;
        if (!p.ready && successes >= probe.successThreshold) await this.setReady(p, true);
      } else {
        successes = 0;
        failures++;
        if (p.ready && failures >= probe.failureThreshold) await this.setReady(p, false);
      }
      setTimeout(() => void once(), Math.max(0, due - Date.now()));
    };
    void once();
  }

  /** Like the kubelet's liveness prober, for one run of the process: from initialDelaySeconds after its start. */
  private livenessLoop(p: RunningPod, proc: Proc): void {
    const probe = p.livenessProbe;
    if (!probe) return;
    const node = this.o.nodes.find((n) => n.name === p.node)!;
    let failures = 0;
    const current = () => !p.stopping && p.proc === proc && p.livenessProbe === probe;
    const once = async () => {
      if (!current()) return;
      const due = Date.now() + probe.periodSeconds * 1000;
      const code = await httpStatusFrom(node.netns, `http://${p.ip}:${probe.port}${probe.path}`, probe.timeoutSeconds);
      if (!current()) return;
      failures = code >= 200 && code < 400 ? 0 : failures + 1;
      if (failures >= probe.failureThreshold) {
        p.livenessKills++;
        this.o.log(`kubelet-standin: ${p.key} ${p.containerName} failed its liveness probe ${failures} times; killing it`);
        void proc.stop(10_000);
        return;
      }
      setTimeout(() => void once(), Math.max(0, due - Date.now()));
    };
    setTimeout(() => void once(), probe.initialDelaySeconds * 1000);
  }

  private async setReady(p: RunningPod, ready: boolean): Promise<void> {
    if (p.ready === ready) return;
    p.ready = ready;
    const [namespace, name] = p.key.split("/");
    const now = new Date().toISOString();
    const status = ready ? "True" : "False";
    try {
      await this.o.api.patch(
        `/api/v1/namespaces/${namespace}/pods/${name}/status`,
        {
          status: {
            conditions: ["Ready", "ContainersReady"].map((type) => ({ type, status, lastTransitionTime: now })),
            containerStatuses: [{ name: p.containerName, ready, restartCount: p.restarts }],
          },
        },
        "strategic-merge",
      );
      this.o.log(`kubelet-standin: ${p.key} Ready=${status}`);
    } catch (e) {
      this.errors.push(`${p.key}: status patch: ${e}`);
    }
  }

  /** `preStop`: the pod was deleted (run its hook); false when the harness itself shuts down. */
  private async teardown(p: RunningPod, preStop: boolean): Promise<void> {
    p.stopping = true;
    this.pods.delete(p.key);
    const deletedAt = Date.now();
    this.events.push({ at: deletedAt, kind: "deleted", key: p.key, node: p.node });
    if (preStop && p.preStop && p.proc?.alive()) {
      this.o.log(`kubelet-standin: ${p.key} preStop: ${p.preStop.join(" ")}`);
      await runToEnd(["ip", "netns", "exec", p.sandbox.netns, ...p.preStop], p.graceSeconds * 1000);
    }
    await p.proc?.stop(preStop ? Math.max(p.graceSeconds * 1000 - (Date.now() - deletedAt), 1000) : 10_000);
    this.events.push({ at: Date.now(), kind: "stopped", key: p.key, node: p.node });
    await p.relay?.stop();
    try {
      p.sandbox.remove();
    } catch (e) {
      this.errors.push(`${p.key}: sandbox removal: ${e}`);
    }
    this.o.log(`kubelet-standin: removed ${p.key}`);
  }
}

/** Runs argv to its end (at most `timeoutMs`), ignoring its output and status. */
function runToEnd(argv: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: "ignore", timeout: timeoutMs });
    child.on("close", () => resolve());
    child.on("error", () => resolve());
  });
}

/** HTTP status of a GET from inside a namespace (curl), 0 when nothing answered in time. */
export function httpStatusFrom(netns: string, url: string, timeoutSeconds: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn("ip", ["netns", "exec", netns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", String(timeoutSeconds), url], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", () => resolve(Number(out.trim()) || 0));
    child.on("error", () => resolve(0));
  });
}
