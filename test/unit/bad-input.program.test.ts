// Every string that reaches a file, a command or a manifest is checked by the schema: index.ts, run
// whole under Pulumi mocks, rejects each bad value with one problem naming the setting and the fix,
// and registers not one resource (before the schema checked them, several of these were found only
// inside a builder, after the Kubernetes objects were registered).
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HOST_KEY_1, devRaw } from "../fixtures/settings";
import { TEST_SSH_KEY, runProgram, stackConfig } from "../fixtures/program";
import { installMocks, recorded, settled } from "../fixtures/mocks";

beforeAll(installMocks);
beforeEach(() => {
  recorded.length = 0;
});

const ONE_LINE = "must be one line without control characters (newline, tab, NUL)";
const PATH_RULE = "must be an absolute path on one line, without control characters (newline, NUL), quotes, '$', '`' or backslashes, e.g. /etc/haproxy/haproxy.cfg";
const IMAGE_RULE = "is not an image reference; write [registry/]repository[:tag][@sha256:digest] in lower case on one line, e.g. nginx/nginx-ingress:5.5.4";
const pair = (raw: Record<string, any>) => {
  raw.loadBalancers = [
    { ...raw.loadBalancers[0], priority: 150 },
    { name: "lb-2", address: "198.51.100.11", hostKey: HOST_KEY_1, priority: 100 },
  ];
  raw.keepalived = { virtualAddresses: ["198.51.100.100"] };
  return raw;
};

const SELECTOR_FIX = "write requirements separated by ',', each key, !key, key=value, key!=value, key in (a,b) or key notin (a,b), e.g. node-role.example.com/ingress=true";
/** The dev stack with nodeDiscovery instead of its node list. */
const discover = (raw: Record<string, any>, nodeDiscovery: Record<string, unknown>) => {
  delete raw.nodes;
  raw.nodeDiscovery = nodeDiscovery;
  return raw;
};

// [what, change to the dev stack, the one problem: [path, message]]
const CASES: [string, (raw: Record<string, any>) => Record<string, any>, [string, string]][] = [
  ["configPath with a newline and a command", (r) => ((r.loadBalancers[0].configPath = "/etc/haproxy/h.cfg\ntouch x"), r), ["loadBalancers[0].configPath", `"/etc/haproxy/h.cfg\\ntouch x" ${PATH_RULE}`]],
  ["pidFile with a NUL", (r) => ((r.loadBalancers[0].pidFile = "/run/haproxy.pid\u0000x"), r), ["loadBalancers[0].pidFile", `"/run/haproxy.pid\\u0000x" ${PATH_RULE}`]],
  ["relative configPath", (r) => ((r.loadBalancers[0].configPath = "haproxy.cfg"), r), ["loadBalancers[0].configPath", `"haproxy.cfg" ${PATH_RULE}`]],
  ["reloadCommand on two lines", (r) => ((r.loadBalancers[0].reloadCommand = "systemctl reload haproxy\nrm -rf /tmp/x"), r), ["loadBalancers[0].reloadCommand", `"systemctl reload haproxy\\nrm -rf /tmp/x" ${ONE_LINE}, e.g. systemctl reload haproxy`]],
  ["empty reloadCommand", (r) => ((r.loadBalancers[0].reloadCommand = ""), r), ["loadBalancers[0].reloadCommand", `"" must not be empty, e.g. systemctl reload haproxy`]],
  ["keepalived.configPath with a carriage return", (r) => ((pair(r).keepalived.configPath = "/etc/keepalived/k.conf\r"), r), ["keepalived.configPath", `"/etc/keepalived/k.conf\\r" ${PATH_RULE}`]],
  ["keepalived.reloadCommand with a tab", (r) => ((pair(r).keepalived.reloadCommand = "systemctl\treload keepalived"), r), ["keepalived.reloadCommand", `"systemctl\\treload keepalived" ${ONE_LINE}, e.g. systemctl reload-or-restart keepalived`]],
  ["a host's keepalived.reloadCommand on two lines", (r) => ((pair(r).loadBalancers[1].keepalived = { reloadCommand: "a\nb" }), r), ["loadBalancers[1].keepalived.reloadCommand", `"a\\nb" ${ONE_LINE}, e.g. systemctl reload-or-restart keepalived`]],
  ["keepalived.sysctlPath with a newline", (r) => ((pair(r).keepalived.sysctlPath = "/etc/sysctl.d/x.conf\n"), r), ["keepalived.sysctlPath", `"/etc/sysctl.d/x.conf\\n" ${PATH_RULE}`]],
  ["controller.image with a newline", (r) => ((r.controller.image = "nginx/nginx-ingress:5.5.4\nx"), r), ["controller.image", `"nginx/nginx-ingress:5.5.4\\nx" ${IMAGE_RULE}`]],
  ["controller.image with an upper-case repository", (r) => ((r.controller.image = "nginx/Nginx-Ingress:5.5.4"), r), ["controller.image", `"nginx/Nginx-Ingress:5.5.4" ${IMAGE_RULE}`]],
  ["controller.image with an empty tag", (r) => ((r.controller.image = "nginx/nginx-ingress:"), r), ["controller.image", `"nginx/nginx-ingress:" ${IMAGE_RULE}`]],
  ["an extraConfig value on two lines", (r) => ((r.controller.extraConfig = { "worker-connections": "1024\nserver-snippets: x" }), r), ["controller.extraConfig.worker-connections", `"1024\\nserver-snippets: x" ${ONE_LINE}, e.g. '4096' or 'on'`]],
  ["an extraConfig key with a space", (r) => ((r.controller.extraConfig = { "worker connections": "1024" }), r), ["controller.extraConfig.worker connections", `"worker connections" is not a ConfigMap key: letters, digits, '-', '_' and '.' only, e.g. worker-connections`]],
  ["a nodeSelector value with a newline", (r) => ((r.controller.nodeSelector = { "kubernetes.io/os": "linux\n" }), r), ["controller.nodeSelector.kubernetes.io/os", `"linux\\n" is not a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric, e.g. linux`]],
  ["a toleration key with a space", (r) => ((r.controller.tolerations = [{ key: "node role", operator: "Exists" }]), r), ["controller.tolerations[0].key", `"node role" is not a Kubernetes label key; write [prefix/]name, name at most 63 letters, digits, '-', '_' or '.', e.g. kubernetes.io/os`]],
  ["a host key with a newline in its comment", (r) => ((r.loadBalancers[0].hostKey = `${HOST_KEY_1} lb-1\nx`), r), ["loadBalancers[0].hostKey", `"${HOST_KEY_1} lb-1\\nx" is not an SSH public host key; use the 'TYPE BASE64' form, e.g. from \`ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-\``]],
  ["a node address with a zone", (r) => ((r.nodes[1].address = "fe80::1%eth0"), r), ["nodes[1].address", `"fe80::1%eth0" has an IPv6 zone; write the address without %zone, e.g. fe80::11`]],
  ["the same node as IPv4 and IPv4-mapped IPv6", (r) => ((r.nodes[1].address = "::ffff:192.0.2.11"), r), ["nodes[1].address", "::ffff:192.0.2.11 is the same address as nodes[0] (192.0.2.11); list each node once"]],
  ["the same LB as IPv4 and IPv4-mapped IPv6", (r) => (r.loadBalancers.push({ name: "lb-2", address: "::FFFF:198.51.100.10", hostKey: HOST_KEY_1 }), r), ["loadBalancers[1].address", "::FFFF:198.51.100.10 is the same address as loadBalancers[0] (198.51.100.10); list each load-balancer host once"]],
  ["an LB at a node's address, IPv4-mapped", (r) => ((r.loadBalancers[0].address = "::ffff:c000:20c"), r), ["loadBalancers[0].address", "::ffff:c000:20c is also a node address; a load balancer must be a separate host"]],
  ["push.takeOverFrom without the project", (r) => ((r.push = { takeOverFrom: "staging" }), r), ["push.takeOverFrom", "\"staging\" must name a stack as <project>:<stack>, e.g. ingress-haproxy:staging (the name the refused push printed)"]],
  ["a node selector that is not a label selector", (r) => discover(r, { selector: "role in (ingress" }), ["nodeDiscovery.selector", `"role in (ingress" is not a Kubernetes label selector: has unbalanced parentheses; ${SELECTOR_FIX}`]],
  ["a node selector with a bad label value", (r) => discover(r, { selector: "role=in/gress" }), ["nodeDiscovery.selector", `"role=in/gress" is not a Kubernetes label selector: "in/gress" is not a label value (at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric); ${SELECTOR_FIX}`]],
  ["nodes and nodeDiscovery both", (r) => ((r.nodeDiscovery = { selector: "role=ingress" }), r), ["nodeDiscovery", "and nodes are both set; use exactly one: remove nodes to discover the nodes from the cluster, or remove nodeDiscovery to keep the list"]],
  ["an unknown addressType", (r) => discover(r, { selector: "", addressType: "Hostname" }), ["nodeDiscovery.addressType", `"Hostname" must be one of InternalIP, ExternalIP, InternalIPv6First (InternalIPv6First: a node's first IPv6 InternalIP, else its first InternalIP)`]],
  ["a maxRemovedShare above 1", (r) => discover(r, { selector: "", maxRemovedShare: 2 }), ["nodeDiscovery.maxRemovedShare", "2 must be between 0 and 1, e.g. 0.5"]],
  ["a negative grace period", (r) => discover(r, { selector: "", exclude: { notReadyGraceSeconds: -5 } }), ["nodeDiscovery.exclude.notReadyGraceSeconds", "-5 must be 0 or more seconds, e.g. 300"]],
  ["a namespace that is not a DNS label", (r) => ((r.namespace = "Nginx_Ingress"), r), ["namespace", `"Nginx_Ingress" must be a DNS label: lower-case letters, digits and '-', at most 63 characters, e.g. node-1`]],
];

describe("index.ts rejects each bad string before registering anything", () => {
  it("covers every case below (none dropped by a refactor)", () => {
    expect(CASES.length).toBe(29);
  });

  it.each(CASES)("%s", async (_what, change, [path, message]) => {
    stackConfig(change(devRaw()), { sshPrivateKey: TEST_SSH_KEY, vrrpPassword: "vrrp-test" });
    const error = await runProgram().then(
      () => undefined,
      (e: unknown) => e as { name?: string; problems?: unknown },
    );
    expect({ name: error?.name, problems: error?.problems }).toEqual({ name: "SettingsError", problems: [{ path: `ingress-haproxy:${path}`, message }] });
    // A RunError: Pulumi prints its message alone (program-settings.ts asRunError says why).
    expect(pulumi.RunError.isInstance(error)).toBe(true);
    // No stack frames: Node's util.inspect(err, { colors: true }), which Pulumi calls on every program
    // error, loops ~80 s on the SDK's `node_modules/@pulumi/resource.ts` frame (asRunError says more).
    expect((error as Error).stack).toBe(`SettingsError: ${(error as Error).message}`);
    expect(await settled()).toEqual([]);
  });
});
