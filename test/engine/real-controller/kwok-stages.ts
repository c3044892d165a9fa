// kwok's Stage objects for the real-controller tier: upstream's own "fast" set (built by
// scripts/toolchain/build.sh), except that pods in the namespaces whose containers the harness really
// runs start Running with an address but NOT Ready. Their readiness then comes only from the real
// process's readiness probe, set by the harness's kubelet stand-in (kubelet-standin.ts); kwok's upstream
// pod-ready stage would mark them Ready before anything listens.
import { readFileSync, writeFileSync } from "node:fs";
import YAML from "yaml";

const NOT_READY = ["Ready", "ContainersReady"];

/** Reads upstream's stages file and writes the tier's variant to `out`. */
export function writeKwokStages(upstreamStages: string, out: string, realNamespaces: string[]): void {
  const docs = YAML.parseAllDocuments(readFileSync(upstreamStages, "utf8")).map((d) => d.toJSON()).filter(Boolean);
  const podReady = docs.find((d: any) => d.kind === "Stage" && d.metadata.name === "pod-ready");
  if (!podReady) throw new Error(`${upstreamStages}: no pod-ready Stage (rebuild kwok with scripts/toolchain/build.sh kwok)`);
  const unready = structuredClone(podReady);
  podReady.spec.selector.matchExpressions.push({ key: ".metadata.namespace", operator: "NotIn", values: realNamespaces });
  unready.metadata.name = "pod-running-unready";
  unready.spec.selector.matchExpressions.push({ key: ".metadata.namespace", operator: "In", values: realNamespaces });
  let template: string = unready.spec.next.statusTemplate;
  for (const type of NOT_READY) {
    const ready = new RegExp(`status: "True"(\\n\\s*type: ${type}\\n)`);
    if (!ready.test(template)) throw new Error(`kwok pod-ready template changed: no "${type}" condition to turn False`);
    template = template.replace(ready, 'status: "False"$1');
  }
  const containerReady = /(containerStatuses:\n\s*\{\{ range \.spec\.containers \}\}\n(?:.*\n){2}\s*)ready: true/;
  if (!containerReady.test(template)) throw new Error("kwok pod-ready template changed: no container `ready: true` to turn false");
  unready.spec.next.statusTemplate = template.replace(containerReady, "$1ready: false");
  docs.splice(docs.indexOf(podReady) + 1, 0, unready);
  writeFileSync(out, docs.map((d: any) => `---\n${YAML.stringify(d, { lineWidth: 0 })}`).join(""));
}
