// Offline render of one stack: everything the program would apply or push, as plain files, without
// the Pulumi CLI, a cluster or the load balancers.
//
//   npm run render -- <stack> [--out DIR] [--config-file FILE] [--nodes-yaml FILE | --kubeconfig FILE]
//
// A stack with nodeDiscovery needs its Nodes: `--nodes-yaml FILE`, a list saved with
// `kubectl get nodes -o yaml` (offline), or `--kubeconfig FILE`, listed from that cluster (with the
// stack's kubernetes:context / kubernetes:cluster, as the provider would). They go through the same
// selection and validation as in `pulumi up` (resolveStackSettings); render never asks a cluster unasked.
//
// Reads Pulumi.<stack>.yaml (or FILE), validates it exactly as `pulumi up` does (settingsFromStackConfig),
// and writes into DIR (default .render/<stack>/): one YAML file per Kubernetes object, the weave patch,
// each load balancer's haproxy.cfg (and keepalived.conf when configured) and SHA256SUMS. The output is
// byte-identical on every run. Secrets are never read: where one would appear (the stats password),
// the file holds a marked placeholder. Exit 1: invalid stack config (the SettingsError message);
// exit 2: wrong usage or an output folder this script did not create.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import YAML from "yaml";
import { withAdoption } from "../components/adopt";
import { backends } from "../components/backends";
import { K8sObject, controllerManifests, sha256 } from "../components/controller/manifests";
import { readableHaproxyConfig } from "../components/haproxy/readable";
import { renderKeepalivedConfig } from "../components/keepalived/config";
import { placeholder, withSecretPlaceholder } from "../components/secret-placeholder";
import type { BackendSource } from "../components/discovery/backend-source";
import { clusterAccessFromConfig, listClusterNodes, loadKubeConfig } from "../components/discovery/list-nodes";
import type { NodeObject } from "../components/discovery/select-nodes";
import { CONFIG_NAMESPACE, NodeSettings, SECRET_KEYS, SecretKey, Settings, SettingsError } from "../components/settings";
import { NodeLister, resolveStackSettings, settingsFromStackConfig } from "../components/stack-config";
import { weavePatchManifest } from "../components/weave/patch";

const ROOT = resolve(__dirname, "..");
/** Marks a folder as written by this script, so a re-run may empty it (and nothing else). */
export const MARKER = ".ingress-haproxy-render";

/** File-name prefix per kind: stable, so enabling one object never renumbers the others. */
const ORDER: Record<string, string> = {
  Namespace: "00",
  ConfigMap: "10",
  ServiceAccount: "20",
  ClusterRole: "21",
  ClusterRoleBinding: "22",
  Role: "23",
  RoleBinding: "24",
  IngressClass: "30",
  DaemonSet: "40",
  Service: "50",
  NetworkPolicy: "60",
};
const WEAVE_PATCH_PREFIX = "70";

export class UsageError extends Error {}

/** A stack file as Pulumi passes it to the program: `project:key` -> text (objects as JSON), plus which keys are `secure:`. */
export interface StackConfig {
  readonly values: Record<string, string>;
  readonly secure: Set<string>;
}

export function readStackConfig(text: string, file: string): StackConfig {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new SettingsError([{ path: file, message: `is not valid YAML: ${(e as Error).message.split("\n")[0]}` }]);
  }
  const config = doc && typeof doc === "object" ? (doc as Record<string, unknown>).config : undefined;
  if (config !== undefined && (config === null || typeof config !== "object" || Array.isArray(config)))
    throw new SettingsError([{ path: `${file}: config`, message: "must be a map of `project:key: value`" }]);
  const values: Record<string, string> = {};
  const secure = new Set<string>();
  for (const [fullKey, value] of Object.entries((config ?? {}) as Record<string, unknown>)) {
    // Pulumi itself refuses keys without a namespace in stack files.
    if (!/^[^:]+:[^:]/.test(fullKey))
      throw new SettingsError([{ path: `${file}: ${fullKey}`, message: `is not a configuration key; write it as ${CONFIG_NAMESPACE}:${fullKey}` }]);
    if (isSecure(value)) {
      secure.add(fullKey);
      values[fullKey] = "<secret>";
    } else values[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return { values, secure };
}

function isSecure(value: unknown): boolean {
  return !!value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as { secure?: unknown }).secure === "string";
}

export interface Validated {
  readonly settings: Settings;
  /** Secret keys `pulumi preview` needs that the stack file does not hold yet (render does not). */
  readonly missingSecrets: SecretKey[];
}

/**
 * settingsFromStackConfig with `secure:` keys as present secrets. A required secret that is simply not
 * set yet does not stop a render (render never needs a secret's value); it is reported instead. Any
 * other problem throws the SettingsError that `pulumi up` would show.
 */
export function validate(config: StackConfig, discovered?: NodeSettings[]): Validated {
  const isSecret = (key: string) => config.secure.has(key);
  try {
    return { settings: settingsFromStackConfig(config.values, isSecret, discovered), missingSecrets: [] };
  } catch (e) {
    const f = withMissingSecretsFilled(config, e);
    return { settings: settingsFromStackConfig(f.values, f.isSecret, discovered), missingSecrets: f.missingSecrets };
  }
}

/** validate for any stack: with nodeDiscovery, its Nodes come from `listNodes` and go through the program's own resolveStackSettings. */
export async function validateStack(config: StackConfig, listNodes: NodeLister, now: Date): Promise<Validated & { source?: BackendSource }> {
  const isSecret = (key: string) => config.secure.has(key);
  try {
    return { ...(await resolveStackSettings(config.values, isSecret, listNodes, now)), missingSecrets: [] };
  } catch (e) {
    const f = withMissingSecretsFilled(config, e);
    return { ...(await resolveStackSettings(f.values, f.isSecret, listNodes, now)), missingSecrets: f.missingSecrets };
  }
}

/** After `e`: the config with each required secret that is simply not set yet filled by a stand-in; any other problem is rethrown. */
function withMissingSecretsFilled(config: StackConfig, e: unknown): { values: Record<string, string>; isSecret: (key: string) => boolean; missingSecrets: SecretKey[] } {
  if (!(e instanceof SettingsError)) throw e;
  const missingSecrets = SECRET_KEYS.filter((k) => !(`${CONFIG_NAMESPACE}:${k}` in config.values) && e.problems.some((p) => p.path === `${CONFIG_NAMESPACE}:${k}`));
  if (!missingSecrets.length) throw e;
  const filled = { ...config.values, ...Object.fromEntries(missingSecrets.map((k) => [`${CONFIG_NAMESPACE}:${k}`, "<secret>"])) };
  return { values: filled, isSecret: (key) => config.secure.has(key) || missingSecrets.some((k) => key === `${CONFIG_NAMESPACE}:${k}`), missingSecrets };
}

/** The Nodes of a `kubectl get nodes -o yaml` file (a v1 List or NodeList of Node objects). */
export function readNodesYaml(text: string, file: string): NodeObject[] {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new UsageError(`--nodes-yaml ${file} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const d = doc as { kind?: unknown; items?: unknown } | null;
  const items = d && (d.kind === "List" || d.kind === "NodeList") && Array.isArray(d.items) ? (d.items as { kind?: unknown }[]) : undefined;
  if (!items || items.some((i) => !i || typeof i !== "object" || (i.kind !== undefined && i.kind !== "Node")))
    throw new UsageError(`--nodes-yaml ${file} is not a list of Nodes; save one with \`kubectl get nodes -o yaml > ${file}\``);
  return items as NodeObject[];
}

/** Where a discovery stack's Nodes come from for this render: the saved list, the given kubeconfig, or nowhere (usage error). */
export function nodeListerFor(args: { nodesYaml?: string; kubeconfig?: string }, config: StackConfig, stack: string): NodeLister {
  if (args.nodesYaml) {
    const file = args.nodesYaml;
    return async () => readNodesYaml(readFileSync(file, "utf8"), file);
  }
  if (args.kubeconfig) {
    const access = { ...clusterAccessFromConfig(config.values), kubeconfig: args.kubeconfig };
    return async () => listClusterNodes(loadKubeConfig(access));
  }
  return async () => {
    throw new UsageError(
      `stack ${stack} discovers its nodes (nodeDiscovery): pass --nodes-yaml FILE (saved with \`kubectl get nodes -o yaml\`) or --kubeconfig FILE (lists them from that cluster)`,
    );
  };
}

export interface RenderedFile {
  readonly path: string;
  readonly content: string;
}

export interface Rendered {
  readonly files: RenderedFile[];
  readonly objects: K8sObject[];
  readonly weavePatch?: K8sObject;
  /** Each file that holds a secret's placeholder, and which secret. */
  readonly placeholders: { file: string; key: SecretKey }[];
  /** Every file pushed to a load balancer (haproxy.cfg, keepalived.conf), with its sha256. */
  readonly pushed: { name: string; address: string; file: string; sha256: string }[];
}

function manifestFile(prefix: string, m: K8sObject, header: string): RenderedFile {
  const scope = m.metadata.namespace ? `${m.metadata.namespace}/${m.metadata.name}` : m.metadata.name;
  return {
    path: `${prefix}-${m.kind.toLowerCase()}-${m.metadata.name}.yaml`,
    content: `# ${m.kind} ${scope}: ${header}\n` + YAML.stringify(m, { lineWidth: 0 }),
  };
}

/** Every file for `settings`, in a fixed order, as the program would apply/push it (minus secrets). */
export function renderFiles(stack: string, settings: Settings): Rendered {
  const header = `rendered from stack ${stack} by \`npm run render -- ${stack}\`; Pulumi applies it (server-side apply), do not edit.`;
  const objects = controllerManifests(settings).map((m) => withAdoption(settings, m));
  const files: RenderedFile[] = objects.map((m) => manifestFile(ORDER[m.kind] ?? "90", m, header));
  let weavePatch: K8sObject | undefined;
  if (settings.cni === "weave") {
    weavePatch = weavePatchManifest(settings);
    const f = manifestFile(WEAVE_PATCH_PREFIX, weavePatch, "server-side apply PATCH of the existing weave-net DaemonSet (owns only NO_MASQ_LOCAL); " + header);
    files.push({ path: f.path.replace(/^70-daemonset-/, "70-daemonsetpatch-"), content: f.content });
  }
  const placeholders: Rendered["placeholders"] = [];
  const pushed: Rendered["pushed"] = [];
  for (const lb of settings.loadBalancers) {
    const file = `lb/${lb.name}/haproxy.cfg`;
    // The same text as the stack output haproxyConfigs (what `pulumi preview --diff` shows).
    const { text: content, placeholders: count } = readableHaproxyConfig(settings, lb);
    if (count) placeholders.push({ file, key: "statsPassword" });
    files.push({ path: file, content });
    pushed.push({ name: lb.name, address: lb.address, file, sha256: sha256(content) });
    const keepalived = renderKeepalived(settings, lb);
    if (keepalived) {
      const kfile = `lb/${lb.name}/keepalived.conf`;
      files.push({ path: kfile, content: keepalived.text });
      pushed.push({ name: lb.name, address: lb.address, file: kfile, sha256: sha256(keepalived.text) });
      if (keepalived.placeholders) placeholders.push({ file: kfile, key: "vrrpPassword" });
    }
  }
  return { files, objects, weavePatch, placeholders, pushed };
}

/** keepalived.conf for `lb` when the stack configures keepalived (components/keepalived). */
function renderKeepalived(settings: Settings, lb: Settings["loadBalancers"][number]): { text: string; placeholders: number } | undefined {
  if (!settings.keepalived) return undefined;
  return withSecretPlaceholder("vrrpPassword", (vrrpPassword) => renderKeepalivedConfig(settings, lb, { vrrpPassword }));
}

/** `sha256sum`-compatible list of every file, so `cd DIR && sha256sum -c SHA256SUMS` checks a copy. */
export function sha256sums(files: RenderedFile[]): string {
  return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => `${sha256(f.content)}  ${f.path}\n`).join("");
}

/** Empties `dir` if this script made it (or creates it); refuses any other non-empty folder. */
function prepareOut(dir: string): void {
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.length && !entries.includes(MARKER))
      throw new UsageError(`refusing to write into ${dir}: it is not empty and was not made by render (no ${MARKER}); choose another --out`);
    for (const e of entries) rmSync(join(dir, e), { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
}

export function writeRender(dir: string, rendered: Rendered): void {
  prepareOut(dir);
  writeFileSync(join(dir, MARKER), "Written by scripts/render.ts; the next render empties this folder.\n");
  for (const f of rendered.files) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.content);
  }
  writeFileSync(join(dir, "SHA256SUMS"), sha256sums(rendered.files));
}

export function summary(stack: string, configFile: string, outDir: string, settings: Settings, r: Rendered, missingSecrets: SecretKey[], source?: BackendSource, from?: string): string {
  const name = (m: K8sObject) => `${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ""}${m.metadata.name}`;
  const b = backends(settings);
  const lines = [
    `Rendered stack ${stack} (${configFile}) into ${outDir}: ${r.files.length} files + SHA256SUMS`,
    `Kubernetes objects (${r.objects.length}): ${r.objects.map(name).join(", ")}`,
  ];
  const adopted = r.objects.filter((m) => m.metadata.annotations?.["pulumi.com/patchForce"] === "true").map(name);
  if (adopted.length) lines.push(`Adopted in place (pulumi.com/patchForce${settings.adopt?.retainOnDelete ? ", kept on destroy" : ""}): ${adopted.join(", ")}`);
  lines.push(r.weavePatch ? `Weave patch: ${name(r.weavePatch)} gets NO_MASQ_LOCAL=1` : `Weave patch: none (cni ${settings.cni})`);
  lines.push(`Backends (${settings.nodes.length} nodes): http ${b.http.join(" ")}`, `                    https ${b.https.join(" ")}`);
  if (source) {
    lines.push(`Discovered from ${from}: selector ${JSON.stringify(source.selector)}, ${source.addressType}: ${source.nodes.map((n) => `${n.name} ${n.address}`).join(", ")}`);
    for (const l of source.leftOut) lines.push(`  left out: ${l.name}: ${l.reason}`);
  }
  lines.push(`Load balancers (${settings.loadBalancers.length}):`);
  for (const h of r.pushed) lines.push(`  ${h.name} ${h.address} ${h.file} sha256 ${h.sha256}`);
  for (const p of r.placeholders)
    lines.push(`Placeholder: ${p.file} holds ${placeholder(p.key)} instead of the secret ${p.key}; its sha256 differs from the pushed file's (stack output ${p.file.endsWith("keepalived.conf") ? "keepalived.hosts" : "loadBalancers"}.*.configSha256).`);
  for (const k of missingSecrets)
    lines.push(`Missing secret: ${CONFIG_NAMESPACE}:${k} is not in ${configFile}; render does not need it, \`pulumi preview\`/\`up\` do: pulumi config set --secret ${k} ... --stack ${stack}`);
  return lines.join("\n") + "\n";
}

export interface RenderArgs {
  stack: string;
  out?: string;
  configFile?: string;
  nodesYaml?: string;
  kubeconfig?: string;
}

const VALUE_OPTIONS: Record<string, keyof Omit<RenderArgs, "stack">> = { "--out": "out", "--config-file": "configFile", "--nodes-yaml": "nodesYaml", "--kubeconfig": "kubeconfig" };

export function parseArgs(argv: string[]): RenderArgs {
  const usage = "usage: npm run render -- <stack> [--out DIR] [--config-file FILE] [--nodes-yaml FILE | --kubeconfig FILE]";
  const args: Partial<RenderArgs> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a in VALUE_OPTIONS) {
      const v = argv[++i];
      if (!v) throw new UsageError(`${a} needs a value; ${usage}`);
      args[VALUE_OPTIONS[a]] = v;
    } else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}; ${usage}`);
    else if (args.stack === undefined) args.stack = a;
    else throw new UsageError(`one stack at a time (got ${args.stack} and ${a}); ${usage}`);
  }
  if (!args.stack) throw new UsageError(usage);
  if (!/^[A-Za-z0-9_.-]+$/.test(args.stack)) throw new UsageError(`"${args.stack}" is not a stack name (letters, digits, '.', '_', '-')`);
  if (args.nodesYaml && args.kubeconfig) throw new UsageError(`--nodes-yaml and --kubeconfig are two sources for the same Nodes; give one`);
  return args as RenderArgs;
}

async function main(): Promise<number> {
  try {
    const args = parseArgs(process.argv.slice(2));
    const configFile = args.configFile ?? join(ROOT, `Pulumi.${args.stack}.yaml`);
    if (!existsSync(configFile)) throw new UsageError(`no stack file ${configFile}; create it with \`pulumi stack init ${args.stack}\` or pass --config-file`);
    const shownFile = args.configFile ?? (relative(process.cwd(), configFile) || configFile);
    const config = readStackConfig(readFileSync(configFile, "utf8"), shownFile);
    const { settings, missingSecrets, source } = await validateStack(config, nodeListerFor(args, config, args.stack), new Date());
    const outDir = resolve(args.out ?? join(ROOT, ".render", args.stack));
    const rendered = renderFiles(args.stack, settings);
    writeRender(outDir, rendered);
    const from = args.nodesYaml ?? `the cluster of ${args.kubeconfig}`;
    process.stdout.write(summary(args.stack, shownFile, args.out ?? (relative(process.cwd(), outDir) || "."), settings, rendered, missingSecrets, source, from));
    return 0;
  } catch (e) {
    if (e instanceof SettingsError) {
      process.stderr.write(e.message + "\n");
      return 1;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`render: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

if (require.main === module) void main().then((code) => (process.exitCode = code));
