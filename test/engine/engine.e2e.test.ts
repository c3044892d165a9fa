// The whole program (index.ts) through the real engine, end to end: the locally built pulumi CLI,
// Kubernetes provider and command provider (scripts/toolchain), a file backend with a passphrase, a
// private PULUMI_HOME, no network beyond loopback and the test hosts. The cluster is a private local
// control plane (scripts/cluster: kwok nodes node-1..3 at 192.0.2.11-13, a weave-net fixture); the
// load balancers are the netns hosts lb-1/lb-2 (scripts/netns/hosts.sh: real sshd + master-worker
// HAProxy), reached from the root namespace through 198.51.100.1 with their host keys pinned.
//
// preview (exact plan) -> up (objects read back from the API server; haproxy.cfg pushed over SSH and
// served by a new worker; the SSH key only as a secret in state) -> preview --expect-no-changes ->
// node-4 added (exactly one push update per LB; `preview --diff` shows each LB's two new server lines,
// no secret; then up: node-4 DOWN, the others UP) -> stats page turned on, preview only (the readable
// diff holds a placeholder, never the password or its hash) -> stack outputs
// -> destroy (objects gone, weave-net as before, each LB's original haproxy.cfg restored).
//
// Uses the netns hosts (one instance per machine): never run it while the netns tier runs.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { configMapData, controllerManifests, networkPolicyManifest, selectorLabels, sha256 } from "../../components/controller/manifests";
import { renderHaproxyConfig, statsSalt } from "../../components/haproxy/config";
import { sha512Crypt } from "../../components/haproxy/crypt";
import { readableHaproxyConfigs } from "../../components/haproxy/readable";
import { pushFiles } from "../../components/haproxy/push-script";
import { parseSettings, type Settings } from "../../components/settings";
import type { HostsContract, LoadBalancerEntry } from "../netns/contract";
import { hostsDown, hostsUp, onHost, procInfo, serverStates, waitFor } from "../netns/harness";
import { type Cluster, startCluster, until } from "./adopt-fixtures";
import { outputLineDiffs } from "../../scripts/preview-plan";
import { type PulumiProject, type PulumiResult, finishEngineFile, programStack } from "./pulumi-cli";

const STACK = "engine";
const PROJECT = "ingress-haproxy";
const CLUSTER_DIR = "/tmp/ihp-cluster-engine";
const PORT_BASE = 27700;
const STATS_PASSWORD = "engine-e2e-stats-password";

let cluster: Cluster;
let hosts: HostsContract;
let project: PulumiProject;
let raw: Record<string, any>;
let settings: Settings;
let sshKey: string;
let weaveBefore: any;
/** haproxy.cfg sha256 per LB as hosts.sh left it, before any push. */
const originalSha: Record<string, string> = {};
const timings: Record<string, number> = {};

const pulumi = (...args: string[]) => project.run([...args, "--stack", STACK]);
async function timed(label: string, ...args: string[]): Promise<PulumiResult> {
  const r = await pulumi(...args);
  timings[label] = r.seconds;
  return r;
}
const ok = (r: PulumiResult): PulumiResult => {
  if (r.status !== 0) throw new Error(`pulumi exited ${r.status}:\n${r.out}`);
  return r;
};

/** Lock files of the file backend (`<state>/.pulumi/locks/…`): one while an update of the stack runs. */
function stackLocks(): string[] {
  const dir = join(project.dir, "state", ".pulumi", "locks");
  return existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".json")) : [];
}

const settingsOf = (config: Record<string, unknown>): Settings => parseSettings(config, { sshPrivateKey: true });
const lbEntries = (): LoadBalancerEntry[] => hosts.loadBalancers;
const onLb = async (lb: LoadBalancerEntry, cmd: string, ...args: string[]): Promise<string> => {
  const r = await onHost(lb.name, cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} on ${lb.name} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};
const liveSha = async (lb: LoadBalancerEntry): Promise<string> => (await onLb(lb, "sha256sum", lb.configPath)).split(" ")[0];
/** TCP ports HAProxy listens on in the LB's namespace, as `addr:port`, sorted. */
const haproxyListeners = async (lb: LoadBalancerEntry): Promise<string[]> =>
  (await onLb(lb, "ss", "-Hltnp"))
    .split("\n")
    .filter((l) => l.includes('"haproxy"'))
    .map((l) => l.trim().split(/\s+/)[3])
    .sort();
const acceptedSsh = (lb: LoadBalancerEntry): string[] =>
  readFileSync(lb.sshdLog, "utf8")
    .split("\n")
    .filter((l) => l.includes("Accepted publickey for root from"));

/** `type name` of every step in `pulumi preview --json` output (non-`same` only with `changed`). */
function steps(r: PulumiResult, changed = false): string[] {
  const plan = JSON.parse(r.stdout) as { steps?: { op: string; urn: string }[] };
  return (plan.steps ?? [])
    .filter((s) => !changed || s.op !== "same")
    .map((s) => {
      const parts = s.urn.split("::");
      const type = parts[2].split("$").pop();
      return `${changed ? `${s.op} ` : ""}${type} ${parts[3]}`;
    })
    .sort();
}

const weaveContainer = (ds: any, name: string) => ds.spec.template.spec.containers.find((c: any) => c.name === name);
/** A Kubernetes object by kind/name, or undefined when it does not exist. */
function getObject(kind: string, name: string, namespace?: string): any {
  const out = cluster.kubectl("get", kind, name, ...(namespace ? ["-n", namespace] : []), "--ignore-not-found", "-o", "json").trim();
  return out ? JSON.parse(out) : undefined;
}

/** The netns hosts are one instance per machine: refuse to take them from a running netns tier. */
function assertNoNetnsTier(): void {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid && Number(p) !== process.ppid)) {
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
    } catch {
      continue;
    }
    if (/vitest/.test(cmd) && /--project[ =](netns)\b|test\/netns|test\/keepalived/.test(cmd))
      throw new Error(`the netns tier seems to be running (pid ${pid}: ${cmd.slice(0, 120)}); the engine tier needs the same netns hosts: run the tiers one after the other`);
  }
}

beforeAll(async () => {
  assertNoNetnsTier();
  cluster = startCluster(CLUSTER_DIR, PORT_BASE, { fresh: true });
  hosts = hostsUp();
  weaveBefore = cluster.json("get", "daemonset", "weave-net", "-n", "kube-system");
  for (const lb of lbEntries()) originalSha[lb.name] = await liveSha(lb);

  // The contract's stack config for these hosts (LB addresses, pinned host keys, configPath, pidFile,
  // reloadCommand), on the weave cluster; its nodes are the kwok nodes' names and addresses.
  raw = { ...hosts.stackConfig, cni: "weave" };
  settings = settingsOf(raw);
  sshKey = readFileSync(hosts.ssh.privateKeyPath, "utf8");
  const nodes = cluster.json("get", "nodes").items.map((n: any) => [n.metadata.name, n.status.addresses.find((a: any) => a.type === "InternalIP").address]);
  expect(nodes).toEqual(settings.nodes.map((n) => [n.name, n.address]));

  project = await programStack("engine-e2e-", STACK, raw, sshKey, { env: cluster.env, passphrase: "engine-e2e-passphrase" });
}, 900_000);

afterAll(() => {
  finishEngineFile("engine e2e", timings, `the cluster (${CLUSTER_DIR}), the netns hosts and ${project?.dir}`, [() => hostsDown(), () => cluster?.down(), () => project?.remove()]);
}, 300_000);

describe("index.ts with the real engine, cluster and load balancers", () => {
  it("the secret config holds the key file's exact text, encrypted in the stack file", async () => {
    const got = ok(await project.run(["config", "get", "sshPrivateKey", "--stack", STACK]));
    expect(got.stdout.trimEnd()).toBe(sshKey.trimEnd());
    const file = readFileSync(join(project.dir, `Pulumi.${STACK}.yaml`), "utf8");
    expect(YAML.parse(file).config[`${PROJECT}:sshPrivateKey`]).toEqual({ secure: expect.stringMatching(/^v1:/) });
    for (const line of sshKey.split("\n").filter((l) => l.length > 20)) expect(file).not.toContain(line);
  });

  it("1. preview of the fresh stack plans exactly the program's resources", async () => {
    const r = ok(await timed("preview (fresh stack)", "preview", "--json"));
    const plan = JSON.parse(r.stdout);
    expect(new Set(plan.steps.map((s: any) => s.op))).toEqual(new Set(["create"]));
    expect(steps(r)).toEqual(
      [
        "command:remote:Command ingress-lb-lb-1-push",
        "command:remote:Command ingress-lb-lb-2-push",
        "ingress-haproxy:controller:IngressController ingress-controller",
        "ingress-haproxy:controller:NodePortService ingress-service",
        "ingress-haproxy:controller:ProxyProtocolConfig ingress-config",
        "ingress-haproxy:haproxy:HaproxyLoadBalancer ingress-lb-lb-1",
        "ingress-haproxy:haproxy:HaproxyLoadBalancer ingress-lb-lb-2",
        "ingress-haproxy:index:SourceIpIngress ingress",
        "ingress-haproxy:weave:WeaveNoMasqLocal ingress-weave",
        "kubernetes:apps/v1:DaemonSet ingress-controller-daemonset-nginx-ingress",
        "kubernetes:apps/v1:DaemonSetPatch ingress-weave-weave-net-weave",
        "kubernetes:core/v1:ConfigMap ingress-config-configmap-nginx-config",
        "kubernetes:core/v1:Namespace ingress-namespace",
        "kubernetes:core/v1:Service ingress-service-service-ingress",
        "kubernetes:core/v1:ServiceAccount ingress-controller-serviceaccount-nginx-ingress",
        "kubernetes:networking.k8s.io/v1:IngressClass ingress-controller-ingressclass-nginx",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy ingress-service-networkpolicy-nginx-ingress-proxy-sources",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole ingress-controller-clusterrole-nginx-ingress-nginx-ingress",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding ingress-controller-clusterrolebinding-nginx-ingress-nginx-ingress",
        "kubernetes:rbac.authorization.k8s.io/v1:Role ingress-controller-role-nginx-ingress",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding ingress-controller-rolebinding-nginx-ingress",
        `pulumi:pulumi:Stack ${PROJECT}-${STACK}`,
      ].sort(),
    );
    // A preview changes nothing anywhere.
    expect(getObject("namespace", "nginx-ingress")).toBeUndefined();
    for (const lb of lbEntries()) expect(await liveSha(lb)).toBe(originalSha[lb.name]);
  });

  const procBefore: Record<string, Awaited<ReturnType<typeof procInfo>>> = {};
  const sshBefore: Record<string, number> = {};
  let upResult: PulumiResult;

  it("2. up succeeds; the API server holds exactly the program's objects", async () => {
    for (const lb of lbEntries()) {
      procBefore[lb.name] = await procInfo(lb);
      sshBefore[lb.name] = acceptedSsh(lb).length;
    }
    const up = timed("up", "up", "--yes", "--skip-preview");
    // A second `pulumi up` of the stack while this one runs is refused by the backend's stack lock
    // (README "The push guarantee": two runs of one stack never push at once).
    await until("the running up to hold the stack's lock", () => (stackLocks().length === 1 ? true : undefined), 120);
    const second = await pulumi("up", "--yes", "--skip-preview");
    expect({ failed: second.status !== 0, locked: second.out.includes("the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end") }, second.out).toEqual({ failed: true, locked: true });
    upResult = ok(await up);
    expect(upResult.out).toMatch(/\+ 22 created/);
    const ns = settings.namespace;

    // The DaemonSet: one ready pod on each of the three (kwok) nodes.
    const pods = await until("one ready controller pod per node", () => {
      const items = cluster.json("get", "pods", "-n", ns, "-l", Object.entries(selectorLabels()).map(([k, v]) => `${k}=${v}`).join(",")).items;
      const ready = items.filter((p: any) => p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"));
      return ready.length === 3 && items.length === 3 ? items : undefined;
    }, 120);
    expect(pods.map((p: any) => p.spec.nodeName).sort()).toEqual(["node-1", "node-2", "node-3"]);
    for (const p of pods) expect(p.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "DaemonSet", name: "nginx-ingress", controller: true })]);
    const ds = await until("DaemonSet 3/3 ready", () => {
      const d = cluster.json("get", "daemonset", "nginx-ingress", "-n", ns);
      return d.status.numberReady === 3 && d.status.numberAvailable === 3 ? d : undefined;
    }, 60);
    expect(ds.status.desiredNumberScheduled).toBe(3);

    // Service `ingress`: NodePort 30111/30112, externalTrafficPolicy Local, the controller pods.
    const svc = cluster.json("get", "service", "ingress", "-n", ns);
    expect(svc.spec.type).toBe("NodePort");
    expect(svc.spec.externalTrafficPolicy).toBe("Local");
    expect(svc.spec.selector).toEqual(selectorLabels());
    expect(svc.spec.ports.map((p: any) => [p.name, p.port, p.targetPort, p.nodePort, p.protocol])).toEqual([
      ["http", 80, "http", 30111, "TCP"],
      ["https", 443, "https", 30112, "TCP"],
    ]);

    // The ConfigMap: exactly the program's keys and values (trusting both LBs).
    const cm = cluster.json("get", "configmap", "nginx-config", "-n", ns);
    expect(cm.data).toEqual(configMapData(settings));
    expect(cm.data["set-real-ip-from"]).toBe("198.51.100.10/32,198.51.100.11/32");

    // weave's container: NO_MASQ_LOCAL=1 appended, every earlier variable as it was, nothing else touched.
    const weave = cluster.json("get", "daemonset", "weave-net", "-n", "kube-system");
    const before = weaveContainer(weaveBefore, "weave");
    expect(weaveContainer(weave, "weave").env).toEqual([...before.env, { name: "NO_MASQ_LOCAL", value: "1" }]);
    expect({ ...weaveContainer(weave, "weave"), env: before.env }).toEqual(before);
    expect(weaveContainer(weave, "weave-npc")).toEqual(weaveContainer(weaveBefore, "weave-npc"));

    // The NetworkPolicy: the PROXY ports only from the two LB addresses; the probe port for kubelet.
    const np = cluster.json("get", "networkpolicy", "nginx-ingress-proxy-sources", "-n", ns);
    expect(np.spec).toEqual(networkPolicyManifest(settings).spec);
    expect(np.spec.ingress[0].from).toEqual([{ ipBlock: { cidr: "198.51.100.10/32" } }, { ipBlock: { cidr: "198.51.100.11/32" } }]);
    expect(np.spec.ingress[0].ports.map((p: any) => p.port)).toEqual(["http", "https"]);
    expect(np.spec.ingress[1].from).toBeUndefined();
  });

  it("3. each LB got its haproxy.cfg over SSH from the engine, served by a new worker; the key is only a secret in state", async () => {
    const outputs = JSON.parse(ok(await pulumi("stack", "output", "--json")).stdout);
    for (const lb of lbEntries()) {
      const expected = renderHaproxyConfig(settings, settings.loadBalancers.find((l) => l.name === lb.name)!);
      const live = await liveSha(lb);
      expect(live).not.toBe(originalSha[lb.name]);
      expect(live).toBe(sha256(expected));
      expect(outputs.loadBalancers[lb.name]).toEqual({ address: lb.address, configPath: lb.configPath, configSha256: live });
      // The push script's status lines reach the engine's log (logging: stdoutAndStderr).
      expect(upResult.out).toContain(`installed ${lb.configPath} (sha256:${live})`);
      // The original is kept beside it for destroy.
      expect((await onLb(lb, "sha256sum", pushFiles(lb.configPath).orig)).split(" ")[0]).toBe(originalSha[lb.name]);
      // The engine (root namespace, 198.51.100.1) logged in with the key.
      const logins = acceptedSsh(lb).slice(sshBefore[lb.name]);
      expect(logins.length).toBeGreaterThanOrEqual(1);
      for (const l of logins) expect(l).toContain("Accepted publickey for root from 198.51.100.1 ");
      // Same master, one more reload, a new worker that binds the frontends and checks the nodes.
      const proc = await waitFor(`one worker on ${lb.name}`, async () => {
        const p = await procInfo(lb);
        return p.workers.length === 1 ? p : undefined;
      }, 10_000);
      expect(proc.masterPid).toBe(procBefore[lb.name].masterPid);
      expect(proc.reloads).toBe(procBefore[lb.name].reloads + 1);
      expect(proc.failedReloads).toBe(procBefore[lb.name].failedReloads);
      expect(proc.workers[0]).not.toBe(procBefore[lb.name].workers[0]);
      expect(await haproxyListeners(lb)).toEqual(["0.0.0.0:443", "0.0.0.0:80"]);
      const states = await waitFor(`every node UP on ${lb.name}`, async () => {
        const st = await serverStates(lb);
        return Object.values(st).every((v) => v === "UP") ? st : undefined;
      }, 15_000);
      expect(Object.keys(states).sort()).toEqual(
        ["http-nodeport", "https-nodeport"].flatMap((b) => ["node-1", "node-2", "node-3"].map((n) => `${b}/${n}`)),
      );
    }

    // The state: the Command connections are secrets; the key text appears nowhere in plaintext.
    const exported = ok(await pulumi("stack", "export")).stdout;
    const keyLines = sshKey.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"));
    expect(keyLines.length).toBeGreaterThan(0);
    for (const line of keyLines) {
      expect(exported).not.toContain(line);
      expect(upResult.out).not.toContain(line);
    }
    const resources = JSON.parse(exported).deployment.resources as any[];
    const pushes = resources.filter((r) => r.type === "command:remote:Command");
    expect(pushes.map((r) => r.urn.split("::").pop()).sort()).toEqual(["ingress-lb-lb-1-push", "ingress-lb-lb-2-push"]);
    for (const r of pushes) {
      // The provider marks the connection secret; the program marks stdout and stderr secret.
      for (const part of [r.inputs.connection, r.outputs.connection, r.outputs.stdout, r.outputs.stderr])
        expect(part).toEqual({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: expect.any(String) });
    }
    // ... and it is there, encrypted: the passphrase decrypts it.
    const shown = ok(await pulumi("stack", "export", "--show-secrets")).stdout;
    for (const line of keyLines) expect(shown).toContain(line);
  });

  // The weave patch ignores diffs under its containers list (the provider prunes live lists by index,
  // components/weave/weave-no-masq-local.ts): without that, this preview always proposed a change.
  it("4. preview --expect-no-changes passes right after, and weave-net keeps NO_MASQ_LOCAL", async () => {
    const r = await timed("preview --expect-no-changes", "preview", "--expect-no-changes");
    expect(r.status, r.out).toBe(0);
    const weave = cluster.json("get", "daemonset", "weave-net", "-n", "kube-system");
    const env = weave.spec.template.spec.containers.find((c: any) => c.name === "weave").env;
    expect(env.filter((e: any) => e.name === "NO_MASQ_LOCAL")).toEqual([{ name: "NO_MASQ_LOCAL", value: "1" }]);
  });

  let settings4: Settings;
  /** Lines of the SSH private key long enough to be recognisable (not the BEGIN/END armour). */
  const sshKeyLines = () => sshKey.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"));

  it("5. adding node-4 changes exactly one push per LB; up pushes it and HAProxy marks node-4 DOWN", async () => {
    ok(await pulumi("config", "set", "--path", "nodes[3].name", "node-4"));
    ok(await pulumi("config", "set", "--path", "nodes[3].address", "192.0.2.14"));
    settings4 = settingsOf({ ...raw, nodes: [...raw.nodes, { name: "node-4", address: "192.0.2.14" }] });
    // What a reviewer reads (the PR comment is this text): each LB's haproxy.cfg gains exactly its two
    // server lines; the pushes' stdin (the file, secret) shows no content.
    const shown = ok(await timed("preview --diff (node-4)", "preview", "--diff"));
    console.log(`preview --diff (node-4):\n${shown.out}`);
    const node4 = { added: ["    server node-4 192.0.2.14:30111 send-proxy check", "    server node-4 192.0.2.14:30112 send-proxy check port 30111 check-send-proxy"], removed: [] };
    expect(outputLineDiffs(shown.out, "haproxyConfigs")).toEqual({ "lb-1": node4, "lb-2": node4 });
    expect(shown.out.match(/~ stdin *: \[secret\] => \[secret\]/g)).toEqual([expect.any(String), expect.any(String)]);
    for (const line of sshKeyLines()) expect(shown.out).not.toContain(line);
    const r = ok(await timed("preview (node-4)", "preview", "--json"));
    expect(steps(r, true)).toEqual(["update command:remote:Command ingress-lb-lb-1-push", "update command:remote:Command ingress-lb-lb-2-push"]);
    for (const s of JSON.parse(r.stdout).steps.filter((x: any) => x.op !== "same")) {
      // pulumi-go-provider's diff (upstream 1.2.1) reports inputDiff false. The create and delete scripts
      // change with the content too: they carry the expected byte count and digest (push.sh's integrity
      // and restore-only-while-ours checks).
      const changed = { kind: "update", inputDiff: false };
      expect([[...s.diffReasons].sort(), s.detailedDiff]).toEqual([["create", "delete", "stdin"], { create: changed, delete: changed, stdin: changed }]);
    }

    for (const lb of lbEntries()) procBefore[lb.name] = await procInfo(lb);
    const up = ok(await timed("up (node-4)", "up", "--yes", "--skip-preview"));
    expect(up.out).toMatch(/~ 2 updated/); // the two pushes
    // addPreviousOutputInEnv: false; with the default the provider warns on every update here.
    expect(up.out).not.toContain("PULUMI_COMMAND_STDOUT");
    for (const lb of lbEntries()) {
      expect(await liveSha(lb)).toBe(sha256(renderHaproxyConfig(settings4, settings4.loadBalancers.find((l) => l.name === lb.name)!)));
      const proc = await procInfo(lb);
      expect(proc.reloads).toBe(procBefore[lb.name].reloads + 1);
      const states = await waitFor(`node-4 DOWN, the others UP on ${lb.name}`, async () => {
        const st = await serverStates(lb);
        const want = Object.entries(st).every(([k, v]) => (k.endsWith("/node-4") ? v.startsWith("DOWN") : v === "UP"));
        return want && Object.keys(st).length === 8 ? st : undefined;
      }, 20_000);
      expect(Object.keys(states).sort()).toEqual(
        ["http-nodeport", "https-nodeport"].flatMap((b) => ["node-1", "node-2", "node-3", "node-4"].map((n) => `${b}/${n}`)),
      );
    }
    // The Kubernetes side did not move (the nodes only reach HAProxy's config).
    expect(cluster.json("get", "configmap", "nginx-config", "-n", settings.namespace).data).toEqual(configMapData(settings));
  });

  it("5b. stats page on (preview only): the readable diff shows a placeholder, never the password or its hash", async () => {
    ok(await pulumi("config", "set", "--path", "haproxy.stats.enabled", "true", "--type", "bool"));
    ok(await project.run(["config", "set", "--secret", "statsPassword", "--stack", STACK], { input: STATS_PASSWORD }));
    const withStats = parseSettings({ ...raw, nodes: settings4.nodes, haproxy: { ...(raw.haproxy as object), stats: { enabled: true } } }, { sshPrivateKey: true, statsPassword: true });
    const shas = Object.fromEntries(await Promise.all(lbEntries().map(async (lb) => [lb.name, await liveSha(lb)] as const)));
    const shown = ok(await timed("preview --diff (stats on)", "preview", "--diff"));
    console.log(`preview --diff (stats on):\n${shown.out}`);
    // The CLI leaves empty lines out of a multi-line diff (measured): the blank lines around the new sections do not show.
    const stats = {
      added: [
        "userlist stats-users",
        "    # statsPassword is a secret: this copy shows a placeholder; `pulumi up` pushes the real line.",
        "    user stats password <SECRET-NOT-RENDERED:statsPassword>",
        "listen stats",
        "    bind 127.0.0.1:8404",
        "    mode http",
        "    option httplog",
        "    http-request auth realm haproxy-stats unless { http_auth(stats-users) }",
        "    stats enable",
        "    stats uri /",
        "    stats refresh 10s",
        "    stats hide-version",
      ],
      removed: [],
    };
    expect(outputLineDiffs(shown.out, "haproxyConfigs")).toEqual({ "lb-1": stats, "lb-2": stats });
    for (const lb of withStats.loadBalancers) {
      const hash = sha512Crypt(STATS_PASSWORD, statsSalt(lb, "stats"));
      // Counterfactual: the file the push would send holds this hash.
      expect(renderHaproxyConfig(withStats, lb, { statsPassword: STATS_PASSWORD })).toContain(`    user stats password ${hash}\n`);
      expect(shown.out).not.toContain(hash);
      expect(shown.out).not.toContain(hash.split("$")[2]); // not even its salt
    }
    expect(shown.out).not.toContain(STATS_PASSWORD);
    expect(shown.out).not.toMatch(/\$6\$/);
    for (const line of sshKeyLines()) expect(shown.out).not.toContain(line);
    // A preview pushes nothing.
    for (const lb of lbEntries()) expect(await liveSha(lb)).toBe(shas[lb.name]);

    ok(await pulumi("config", "rm", "--path", "haproxy.stats.enabled"));
    ok(await pulumi("config", "rm", "statsPassword"));
    const back = await timed("preview --expect-no-changes (stats off again)", "preview", "--expect-no-changes");
    expect(back.status, back.out).toBe(0);
  });

  it("6. stack outputs list the NodePorts, backends and pushed hashes exactly", async () => {
    const outputs = JSON.parse(ok(await pulumi("stack", "output", "--json")).stdout);
    const shas = Object.fromEntries(await Promise.all(lbEntries().map(async (lb) => [lb.name, await liveSha(lb)] as const)));
    expect(outputs).toEqual({
      namespace: "nginx-ingress",
      serviceName: "ingress",
      nodePorts: { http: 30111, https: 30112 },
      backends: {
        http: ["192.0.2.11:30111", "192.0.2.12:30111", "192.0.2.13:30111", "192.0.2.14:30111"],
        https: ["192.0.2.11:30112", "192.0.2.12:30112", "192.0.2.13:30112", "192.0.2.14:30112"],
      },
      loadBalancers: {
        "lb-1": { address: "198.51.100.10", configPath: hosts.loadBalancers[0].configPath, configSha256: shas["lb-1"] },
        "lb-2": { address: "198.51.100.11", configPath: hosts.loadBalancers[1].configPath, configSha256: shas["lb-2"] },
      },
      haproxyConfigs: readableHaproxyConfigs(settings4),
      keepalived: null,
    });
    expect(outputs.haproxyConfigs["lb-1"]).toBe(renderHaproxyConfig(settings4, settings4.loadBalancers[0]));
  });

  it("7. destroy removes every object, leaves weave-net as it was and restores each LB's original haproxy.cfg", async () => {
    for (const lb of lbEntries()) procBefore[lb.name] = await procInfo(lb);
    const r = ok(await timed("destroy", "destroy", "--yes", "--skip-preview"));
    expect(r.out).toMatch(/- 22 deleted/);
    expect(r.out).not.toContain("PULUMI_COMMAND_STDOUT");

    for (const m of controllerManifests(settings)) expect(getObject(m.kind, m.metadata.name, m.metadata.namespace), `${m.kind} ${m.metadata.name}`).toBeUndefined();
    expect(cluster.kubectl("get", "clusterrole,clusterrolebinding,ingressclass", "-l", "app.kubernetes.io/part-of=ingress-haproxy", "-o", "name").trim()).toBe("");

    const weave = cluster.json("get", "daemonset", "weave-net", "-n", "kube-system");
    expect(weaveContainer(weave, "weave").env.map((e: any) => e.name)).not.toContain("NO_MASQ_LOCAL");
    expect(weave.spec.template).toEqual(weaveBefore.spec.template);
    expect(weave.spec).toEqual(weaveBefore.spec);
    // The DaemonSet controller's template counter: +2 (NO_MASQ_LOCAL added, then removed), nothing else.
    const TEMPLATE_GENERATION = "deprecated.daemonset.template.generation";
    const { [TEMPLATE_GENERATION]: generation, ...annotations } = weave.metadata.annotations;
    const { [TEMPLATE_GENERATION]: generationBefore, ...annotationsBefore } = weaveBefore.metadata.annotations;
    expect(annotations).toEqual(annotationsBefore);
    expect(Number(generation)).toBe(Number(generationBefore) + 2);
    expect(weave.metadata.labels).toEqual(weaveBefore.metadata.labels);

    for (const lb of lbEntries()) {
      expect(await liveSha(lb)).toBe(originalSha[lb.name]);
      expect(existsSync(pushFiles(lb.configPath).orig)).toBe(false);
      const proc = await waitFor(`one worker on ${lb.name}`, async () => {
        const p = await procInfo(lb);
        return p.workers.length === 1 ? p : undefined;
      }, 10_000);
      expect(proc.reloads).toBe(procBefore[lb.name].reloads + 1);
      expect(proc.masterPid).toBe(procBefore[lb.name].masterPid);
      // The placeholder config again: loopback only, no backends.
      expect(await haproxyListeners(lb)).toEqual(["127.0.0.1:8999"]);
      expect(await serverStates(lb)).toEqual({});
    }
    const state = JSON.parse(ok(await pulumi("stack", "export")).stdout);
    expect(state.deployment.resources ?? []).toEqual([]);
  });
});
