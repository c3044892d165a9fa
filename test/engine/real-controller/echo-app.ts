// The app behind the test Ingress: a Deployment whose pod the kubelet stand-in runs (echo-server.mjs),
// its Service, a TLS Secret with the netns hosts' test certificate, and the Ingress for HOST.
import { readFileSync } from "node:fs";
import YAML from "yaml";
import type { HostsContract } from "../../netns/contract";

/** Not pulled from anywhere: the kubelet stand-in runs echo-server.mjs for this image. */
export const ECHO_IMAGE = "ihp.test/echo:1";
export const HOST = "ingress.test";
export const ECHO_NAMESPACE = "echo";

export function echoAppYaml(hosts: HostsContract, ingressClassName: string): string {
  const namespace = ECHO_NAMESPACE;
  const tls = { "tls.crt": readFileSync(hosts.tls.certPath).toString("base64"), "tls.key": readFileSync(hosts.tls.keyPath).toString("base64") };
  const objects = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "echo", namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "echo" } },
        template: {
          metadata: { labels: { app: "echo" } },
          spec: {
            containers: [
              {
                name: "echo",
                image: ECHO_IMAGE,
                ports: [{ name: "http", containerPort: 8080 }],
                readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 2 },
              },
            ],
          },
        },
      },
    },
    { apiVersion: "v1", kind: "Service", metadata: { name: "echo", namespace }, spec: { selector: { app: "echo" }, ports: [{ name: "http", port: 80, targetPort: "http" }] } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "ingress-test-tls", namespace }, type: "kubernetes.io/tls", data: tls },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      // The controller would answer http with a redirect to https for an Ingress with TLS; the tests send
      // the same requests through both frontends.
      metadata: { name: "echo", namespace, annotations: { "nginx.org/ssl-redirect": "false" } },
      spec: {
        ingressClassName,
        tls: [{ hosts: [HOST], secretName: "ingress-test-tls" }],
        rules: [{ host: HOST, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "echo", port: { name: "http" } } } }] } }],
      },
    },
  ];
  return objects.map((o) => `---\n${YAML.stringify(o)}`).join("");
}
