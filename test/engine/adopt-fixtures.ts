// Shared by the adoption tests: a private local control plane (scripts/cluster, own folder and ports)
// and the seed's objects made the way the seed's reader makes them (kubectl apply, kubectl patch).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(__dirname, "../..");

// The seed's Namespace, ConfigMap, NodePort Service and controller Deployment (its pod was
// `ingress-controller-…`), as `kubectl apply -f` creates them.
export const SEED = `apiVersion: v1
kind: Namespace
metadata:
  name: nginx-ingress
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: nginx-config
  namespace: nginx-ingress
data:
  compute-full-forwarded-for: "true"
  use-forwarded-headers: "true"
  use-proxy-protocol: "true"
---
apiVersion: v1
kind: Service
metadata:
  name: ingress
  namespace: nginx-ingress
spec:
  type: NodePort
  selector:
    name: nginx-ingress
  ports:
    - {name: http, port: 80, targetPort: 80, nodePort: 30111, protocol: TCP}
    - {name: https, port: 443, targetPort: 443, nodePort: 30112, protocol: TCP}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ingress-controller
  namespace: nginx-ingress
spec:
  replicas: 1
  selector:
    matchLabels: {name: nginx-ingress}
  template:
    metadata:
      labels: {name: nginx-ingress}
    spec:
      containers:
        - name: nginx-ingress
          image: nginx/nginx-ingress:1.6.3
          ports: [{containerPort: 80}, {containerPort: 443}]
`;

/**
 * Pulumi.dev.yaml for a fresh backend: without its `encryptionsalt` and encrypted `sshPrivateKey` (made
 * with the documented example passphrase; a test brings its own passphrase and key), with
 * `extraConfigLines` (indented two spaces) added to its `config:` block.
 */
export function devStackFile(extraConfigLines = ""): string {
  const dev = readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8")
    .replace(/^ {2}ingress-haproxy:sshPrivateKey:\n {4}secure: \S+\n/m, "")
    .replace(/^encryptionsalt: \S+\n/m, "");
  const topLevel = dev.split("\n").filter((l) => /^[A-Za-z]/.test(l));
  if (topLevel.length !== 1 || topLevel[0] !== "config:") throw new Error(`Pulumi.dev.yaml: expected only a config: block after removing the salt, got ${topLevel.join(", ")}`);
  return dev + extraConfigLines;
}

export interface Cluster {
  readonly dir: string;
  readonly apiPort: number;
  readonly kubeconfig: string;
  readonly env: NodeJS.ProcessEnv;
  kubectl(...args: string[]): string;
  json(...args: string[]): any;
  /** The seed's objects, created as the seed's reader does. */
  makeSeed(): void;
  /** Deletes what the seed and the program made in the cluster, then makes the seed again. */
  resetSeed(): void;
  down(): void;
}

/**
 * Starts (or reuses) a control plane in `dir` on ports from `portBase`; needs the toolchain built.
 * `fresh`: stop and remove whatever runs there first (a run that crashed may have left objects).
 * `kwokStages`: this cluster's kwok Stage file (kwok-stages.ts); default: upstream's.
 */
export function startCluster(dir: string, portBase: number, opts: { fresh?: boolean; kwokStages?: string } = {}): Cluster {
  const env: NodeJS.ProcessEnv = { ...process.env, IHP_CLUSTER_DIR: dir, IHP_CLUSTER_PORT_BASE: String(portBase) };
  // Set for this cluster's scripts only, never in process.env: the engine files share vitest's worker.
  if (opts.kwokStages) env.IHP_CLUSTER_KWOK_STAGES = opts.kwokStages;
  else delete env.IHP_CLUSTER_KWOK_STAGES;
  if (opts.fresh) execFileSync("bash", ["scripts/cluster/down.sh"], { cwd: ROOT, env, stdio: ["ignore", "inherit", "inherit"] });
  const kubectlBin = join(execFileSync("bash", ["-c", "source scripts/toolchain/lib.sh && dir_of kubernetes"], { cwd: ROOT, encoding: "utf8" }).trim(), "bin/kubectl");
  const out = execFileSync("bash", ["scripts/cluster/up.sh"], { cwd: ROOT, env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const kubeconfig = out.trim().split("\n").pop()!.replace(/^KUBECONFIG=/, "");
  const kubectl = (...args: string[]) => execFileSync(kubectlBin, ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8" });
  const makeSeed = () => {
    writeFileSync(join(dir, "seed.yaml"), SEED);
    kubectl("apply", "-f", join(dir, "seed.yaml"));
    kubectl("patch", "svc", "ingress", "-n", "nginx-ingress", "-p", '{"spec":{"externalTrafficPolicy":"Local"}}');
  };
  return {
    dir,
    apiPort: portBase + 43,
    kubeconfig,
    env: { ...env, KUBECONFIG: kubeconfig },
    kubectl,
    json: (...args: string[]) => JSON.parse(kubectl(...args, "-o", "json")),
    makeSeed,
    resetSeed: () => {
      kubectl("delete", "namespace", "nginx-ingress", "--ignore-not-found", "--wait=true", "--timeout=120s");
      kubectl("delete", "clusterrole,clusterrolebinding", "nginx-ingress-nginx-ingress", "--ignore-not-found");
      kubectl("delete", "ingressclass", "nginx", "--ignore-not-found");
      makeSeed();
    },
    down: () => {
      execFileSync("bash", ["scripts/cluster/down.sh"], { cwd: ROOT, env, stdio: "inherit" });
    },
  };
}

/** Polls `probe` every 0.5 s until it returns a value. */
export async function until<T>(what: string, probe: () => T | undefined, seconds = 60): Promise<T> {
  for (let i = 0; i < seconds * 2; i++) {
    const v = probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}
