// The real kube-proxy (built from the control plane's release, scripts/toolchain/build.sh kube-proxy),
// one per node namespace, in iptables mode: it programs that namespace's NodePorts from the Services
// and EndpointSlices it watches, exactly as on a node.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import type { NodeNet } from "./pod-sandbox-standin";
import { API_RELAY_PORT } from "./pod-sandbox-standin";
import { startProc, type Proc } from "./processes";

export interface KubeProxyOptions {
  readonly binary: string;
  readonly clusterDir: string;
  readonly podCidr: string;
  readonly stateDir: string;
}

/** Writes the node's kubeconfig and KubeProxyConfiguration, then starts kube-proxy in the node's namespace. */
export function startKubeProxy(node: NodeNet, o: KubeProxyOptions): Proc {
  const pki = join(o.clusterDir, "pki");
  const kubeconfig = join(o.stateDir, `kube-proxy-${node.name}.kubeconfig`);
  writeFileSync(
    kubeconfig,
    YAML.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "local", cluster: { server: `https://127.0.0.1:${API_RELAY_PORT}`, "certificate-authority": join(pki, "ca.crt") } }],
      users: [{ name: "admin", user: { "client-certificate": join(pki, "admin.crt"), "client-key": join(pki, "admin.key") } }],
      contexts: [{ name: "local", context: { cluster: "local", user: "admin" } }],
      "current-context": "local",
    }),
  );
  const config = join(o.stateDir, `kube-proxy-${node.name}.yaml`);
  writeFileSync(
    config,
    YAML.stringify({
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      clientConnection: { kubeconfig },
      hostnameOverride: node.name,
      mode: "iptables",
      clusterCIDR: o.podCidr,
      detectLocalMode: "ClusterCIDR",
      // NodePorts on the node's own address only (not on every local address).
      nodePortAddresses: [`${node.address}/32`],
      // The conntrack table limits and timeouts are per machine, not per namespace: leave them alone.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
      healthzBindAddress: "127.0.0.1:10256",
      metricsBindAddress: "127.0.0.1:10249",
      iptables: { minSyncPeriod: "0s", syncPeriod: "30s" },
    }),
  );
  return startProc(`kube-proxy-${node.name}`, "ip", ["netns", "exec", node.netns, o.binary, "--config", config, "--v=2"], join(o.stateDir, `kube-proxy-${node.name}.log`));
}
