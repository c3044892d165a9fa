// The test stack: the settings the netns hosts are built for and the tests push. Everything goes
// through the program's own parseSettings, so trusted addresses, health path and HAProxy settings are
// the ones the program would use.
import { join } from "node:path";
import { parseSettings, type Settings } from "../../components/settings";
import { HOSTS } from "./topology";

export const DEFAULT_STATE_DIR = "/run/ihp-netns";
export const stateDir = (): string => process.env.IHP_NETNS_DIR || DEFAULT_STATE_DIR;

export interface LbPaths {
  readonly dir: string;
  readonly configPath: string;
  readonly pidFile: string;
  readonly reloadCommand: string;
  readonly masterSocket: string;
  readonly sshdConfig: string;
  readonly sshdPidFile: string;
  readonly sshdLog: string;
  readonly hostKeyPath: string;
  readonly hostPublicKeyPath: string;
}

export function lbPaths(dir: string, name: string): LbPaths {
  const d = join(dir, name);
  const pidFile = join(d, "haproxy.pid");
  return {
    dir: d,
    configPath: join(d, "haproxy.cfg"),
    pidFile,
    reloadCommand: `kill -USR2 $(cat ${pidFile})`,
    masterSocket: join(d, "haproxy-master.sock"),
    sshdConfig: join(d, "sshd_config"),
    sshdPidFile: join(d, "sshd.pid"),
    sshdLog: join(d, "sshd.log"),
    hostKeyPath: join(d, "ssh_host_ed25519_key"),
    hostPublicKeyPath: join(d, "ssh_host_ed25519_key.pub"),
  };
}

export interface NodePaths {
  readonly dir: string;
  readonly nginxConf: string;
  readonly pidFile: string;
  readonly accessLog: string;
  readonly healthLog: string;
  readonly errorLog: string;
  readonly firewallRules: string;
  readonly tempDir: string;
}

export function nodePaths(dir: string, name: string): NodePaths {
  const d = join(dir, name);
  return {
    dir: d,
    nginxConf: join(d, "nginx.conf"),
    pidFile: join(d, "nginx.pid"),
    accessLog: join(d, "access.log"),
    healthLog: join(d, "health.log"),
    errorLog: join(d, "error.log"),
    firewallRules: join(d, "netpol.rules"),
    tempDir: join(d, "tmp"),
  };
}

/**
 * Raw stack config (what `pulumi config set` would hold, without the project prefix) for the netns
 * hosts. `hostKeys` maps LB name -> 'ssh-ed25519 AAAA...'. `overrides` is merged into `haproxy`.
 */
export function testStackConfig(dir: string, hostKeys: Record<string, string>, haproxyOverrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cni: "calico",
    nodes: HOSTS.filter((h) => h.role === "node").map((h) => ({ name: h.name, address: h.address })),
    loadBalancers: HOSTS.filter((h) => h.role === "lb").map((h) => {
      const p = lbPaths(dir, h.name);
      return {
        name: h.name,
        address: h.address,
        sshPort: 22,
        user: "root",
        hostKey: hostKeys[h.name] ?? "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPLACEHOLDERPLACEHOLDERPLACEHOLDERPLACEHOLDE",
        configPath: p.configPath,
        reloadCommand: p.reloadCommand,
        pidFile: p.pidFile,
      };
    }),
    controller: { flavour: "f5" },
    haproxy: {
      // Short checks keep the tier fast: fall checks every inter take a node out (a refused check fails
      // at once; a blackholed one only after min(inter, timeouts.connectMs)).
      healthCheck: { interMs: 500, fall: 2, rise: 1 },
      timeouts: { connectMs: 1000, clientMs: 10000, serverMs: 10000 },
      // Fixed, so the test LBs do not depend on this machine's open-file limit (unset, HAProxy derives
      // maxconn from it).
      maxconn: 4096,
      ...haproxyOverrides,
    },
    push: { lockTimeoutSeconds: 30, verifyTimeoutSeconds: 10 },
  };
}

export function testSettings(dir: string, hostKeys: Record<string, string>, haproxyOverrides: Record<string, unknown> = {}): Settings {
  return parseSettings(testStackConfig(dir, hostKeys, haproxyOverrides), { sshPrivateKey: true });
}
