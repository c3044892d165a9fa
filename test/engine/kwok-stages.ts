// kwok's Stage objects (what kwok, playing the kubelets, does to Nodes and Pods) for the engine tier's
// clusters: upstream's own "fast" set (built by scripts/toolchain/build.sh) with two optional changes.
//
// - unreadyPodNamespaces (real-controller tier): pods in these namespaces, whose containers the harness
//   really runs, start Running with an address but NOT Ready. Their readiness then comes only from the
//   real process's readiness probe, set by the harness's kubelet stand-in (kubelet-standin.ts); kwok's
//   upstream pod-ready stage would mark them Ready before anything listens.
// - stoppableKubelets (discovery tier): a Node labelled KUBELET_STOPPED (a kubelet that stopped
//   reporting) is left alone: upstream's node-initialize stage would turn a Ready=False condition back
//   to True at once, and a heartbeat already queued for the node would do the same minutes later. Its
//   own stage matches instead (so kwok swaps the queued heartbeat out) and waits a day before doing
//   nothing but an event. The test then writes the NotReady condition a real kubelet would have left.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import YAML from "yaml";

/** Upstream's stages file, installed beside the kwok binary by scripts/toolchain/build.sh. */
export function upstreamKwokStages(): string {
  const dir = execFileSync("bash", ["-c", "source scripts/toolchain/lib.sh && dir_of kwok"], { cwd: resolve(__dirname, "../.."), encoding: "utf8" }).trim();
  return join(dir, "share/stages.yaml");
}

/** `kubectl label node <n> ihp.test/kubelet=stopped`: kwok stops playing that node's kubelet. */
export const KUBELET_STOPPED = { label: "ihp.test/kubelet", value: "stopped" } as const;

export interface StageOptions {
  unreadyPodNamespaces?: string[];
  stoppableKubelets?: boolean;
}

type StageDoc = { apiVersion?: string; kind: string; metadata: { name: string }; spec: any };

/** Reads upstream's stages file and writes this cluster's variant to `out`. */
export function writeKwokStages(upstreamStages: string, out: string, opts: StageOptions): void {
  let docs: StageDoc[] = YAML.parseAllDocuments(readFileSync(upstreamStages, "utf8")).map((d) => d.toJSON()).filter(Boolean);
  const stage = (name: string) => {
    const found = docs.find((d) => d.kind === "Stage" && d.metadata.name === name);
    if (!found) throw new Error(`${upstreamStages}: no ${name} Stage (rebuild kwok with scripts/toolchain/build.sh kwok)`);
    return found;
  };
  if (opts.unreadyPodNamespaces?.length) docs = withUnreadyPods(docs, stage("pod-ready"), opts.unreadyPodNamespaces);
  if (opts.stoppableKubelets) docs = withStoppableKubelets(docs, [stage("node-initialize"), stage("node-heartbeat-with-lease")]);
  writeFileSync(out, docs.map((d) => `---\n${YAML.stringify(d, { lineWidth: 0 })}`).join(""));
}

const NOT_READY = ["Ready", "ContainersReady"];

function withUnreadyPods(docs: StageDoc[], podReady: StageDoc, namespaces: string[]): StageDoc[] {
  const unready = structuredClone(podReady);
  podReady.spec.selector.matchExpressions.push({ key: ".metadata.namespace", operator: "NotIn", values: namespaces });
  unready.metadata.name = "pod-running-unready";
  unready.spec.selector.matchExpressions.push({ key: ".metadata.namespace", operator: "In", values: namespaces });
  let template: string = unready.spec.next.statusTemplate;
  for (const type of NOT_READY) {
    const ready = new RegExp(`status: "True"(\\n\\s*type: ${type}\\n)`);
    if (!ready.test(template)) throw new Error(`kwok pod-ready template changed: no "${type}" condition to turn False`);
    template = template.replace(ready, 'status: "False"$1');
  }
  const containerReady = /(containerStatuses:\n\s*\{\{ range \.spec\.containers \}\}\n(?:.*\n){2}\s*)ready: true/;
  if (!containerReady.test(template)) throw new Error("kwok pod-ready template changed: no container `ready: true` to turn false");
  unready.spec.next.statusTemplate = template.replace(containerReady, "$1ready: false");
  return docs.flatMap((d) => (d === podReady ? [d, unready] : [d]));
}

const ONE_DAY_MS = 86_400_000;

function withStoppableKubelets(docs: StageDoc[], nodeStages: StageDoc[]): StageDoc[] {
  const labelKey = `.metadata.labels["${KUBELET_STOPPED.label}"]`;
  for (const s of nodeStages) s.spec.selector.matchExpressions.push({ key: labelKey, operator: "NotIn", values: [KUBELET_STOPPED.value] });
  const stopped: StageDoc = {
    apiVersion: "kwok.x-k8s.io/v1alpha1",
    kind: "Stage",
    metadata: { name: "node-kubelet-stopped" },
    spec: {
      resourceRef: { apiGroup: "v1", kind: "Node" },
      selector: { matchExpressions: [{ key: labelKey, operator: "In", values: [KUBELET_STOPPED.value] }] },
      delay: { durationMilliseconds: ONE_DAY_MS },
      next: { event: { type: "Normal", reason: "KubeletStopped", message: "kwok stopped playing this node's kubelet (test)" } },
    },
  };
  return [...docs, stopped];
}
