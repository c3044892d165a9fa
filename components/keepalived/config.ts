// keepalived.conf for one load-balancer host, its push parameters (the generic safe push of
// components/haproxy/push-script.ts) and the nonlocal-bind step, all pure and rendered from the same
// validated settings as haproxy.cfg. Byte-stable: the same settings and secret give the same bytes.
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { bashCommand, pushInvocation, restoreInvocation, shellQuote, type PushInput, type PushParams, type RemoteInvocation } from "../haproxy/push-script";
import { canonicalIp, type KeepalivedSettings, type LoadBalancerSettings, type Settings } from "../settings";

export interface KeepalivedSecrets {
  /** VRRP authentication secret (secret config `vrrpPassword`); required when the LBs are IPv4 (VRRPv2). */
  readonly vrrpPassword?: string;
}

export type VrrpRole = "MASTER" | "BACKUP";

/** Names inside keepalived.conf. */
export const VRRP_INSTANCE = "ingress_haproxy";
export const VRRP_SCRIPT = "haproxy_serving";

/** keepalived settings for one host: the top-level defaults with the host's overrides applied. */
export interface KeepalivedHost {
  readonly interface: string;
  readonly configPath: string;
  readonly reloadCommand: string;
  readonly pidFile: string;
  readonly priority: number;
  readonly role: VrrpRole;
}

export function keepalivedOf(s: Settings): KeepalivedSettings {
  if (!s.keepalived) throw new Error("keepalived is not configured in these settings");
  return s.keepalived;
}

/**
 * The role a host starts in: the highest priority is MASTER, every other host BACKUP. (With nopreempt
 * the file says `state BACKUP` everywhere, as keepalived requires; the priorities still elect the same
 * MASTER when both start.)
 */
export function vrrpRole(s: Settings, lb: LoadBalancerSettings): VrrpRole {
  const top = Math.max(...s.loadBalancers.map((l) => l.priority ?? 0));
  return lb.priority === top ? "MASTER" : "BACKUP";
}

export function keepalivedHost(s: Settings, lb: LoadBalancerSettings): KeepalivedHost {
  const k = keepalivedOf(s);
  const o = lb.keepalived ?? {};
  if (lb.priority === undefined) throw new Error(`loadBalancers ${lb.name} has no priority (settings not validated?)`);
  return {
    interface: o.interface ?? k.interface,
    configPath: o.configPath ?? k.configPath,
    reloadCommand: o.reloadCommand ?? k.reloadCommand,
    pidFile: o.pidFile ?? k.pidFile,
    priority: lb.priority,
    role: vrrpRole(s, lb),
  };
}

/** The address family the VRRP adverts use: the load balancers' own (validated to be one family). */
export function vrrpFamily(s: Settings): 4 | 6 {
  return isIP(s.loadBalancers[0].address) === 6 ? 6 : 4;
}

/**
 * The 8-character `auth_pass` (VRRPv2 PASS authentication carries exactly 8 bytes and keepalived
 * truncates longer values with a warning that fails `keepalived -t`). Derived from the secret, so any
 * password length works, every host gets the same token, and the secret itself never goes on the wire.
 */
export function vrrpAuthToken(password: string): string {
  return createHash("sha256").update(`ingress-haproxy vrrp ${password}`).digest("base64url").slice(0, 8);
}

const isWildcard = (a: string) => canonicalIp(a) === "0.0.0.0" || canonicalIp(a) === canonicalIp("::");

/**
 * The vrrp_script command: "HAProxy is serving". With a wildcard bind it connects to the https
 * frontend on loopback (a real accept). With floating addresses only, a connect from a BACKUP would
 * leave the host and reach the MASTER, so it checks that a socket listens on the https port instead.
 */
export function haproxyCheckCommand(s: Settings): string {
  const port = s.haproxy.frontendPorts.https;
  const binds = s.haproxy.bindAddresses.filter(isWildcard).map((a) => (isIP(a) === 4 ? "127.0.0.1" : "::1"));
  if (binds.length) return `/bin/bash -c '</dev/tcp/${binds[0]}/${port}'`;
  return `/bin/bash -c 'ss -Hltn sport = :${port} | grep -q .'`;
}

/** Families of floating addresses HAProxy binds explicitly: those need ip_nonlocal_bind on a BACKUP. */
export function nonlocalBindFamilies(s: Settings): (4 | 6)[] {
  if (!s.keepalived) return [];
  const vips = new Set(s.keepalived.virtualAddresses.map(canonicalIp));
  const bound = s.haproxy.bindAddresses.filter((a) => vips.has(canonicalIp(a))).map((a) => (isIP(a) === 6 ? 6 : 4) as 4 | 6);
  return ([4, 6] as const).filter((f) => bound.includes(f));
}

const vipLine = (address: string, iface: string) => `${address}/${isIP(address) === 6 ? 128 : 32} dev ${iface}`;

/**
 * Renders keepalived.conf for `lb`. Throws when the LBs are IPv4 and no vrrpPassword is given, or when
 * the settings carry no keepalived section.
 */
export function renderKeepalivedConfig(s: Settings, lb: LoadBalancerSettings, secrets: KeepalivedSecrets = {}): string {
  const k = keepalivedOf(s);
  const host = keepalivedHost(s, lb);
  const family = vrrpFamily(s);
  if (family === 4 && !secrets.vrrpPassword)
    throw new Error("keepalived between IPv4 load balancers needs the VRRP secret: `pulumi config set --secret vrrpPassword <password>`");
  const carried = k.virtualAddresses.filter((a) => isIP(a) === family);
  const excluded = k.virtualAddresses.filter((a) => isIP(a) !== family);
  const peers = s.loadBalancers.filter((l) => l.name !== lb.name).map((l) => l.address);
  const lines: string[] = [];
  const add = (...more: string[]) => lines.push(...more);
  const block = (header: string, body: string[], indent = "") => add(`${indent}${header} {`, ...body.map((l) => `${indent}    ${l}`), `${indent}}`);
  const inner = (header: string, body: string[]) => [`${header} {`, ...body.map((l) => `    ${l}`), "}"];

  add(
    `# Generated by the ingress-haproxy Pulumi program for load balancer ${lb.name}; do not edit.`,
    `# Floating address${k.virtualAddresses.length > 1 ? "es" : ""} ${k.virtualAddresses.join(", ")}: ${host.role} by priority ${host.priority}` +
      ` (${k.preempt ? "preempt: the highest priority always takes over" : "nopreempt: a host that returns does not take over"}).`,
    `# ${VRRP_SCRIPT} fails when HAProxy stops accepting on :${s.haproxy.frontendPorts.https}; the host then goes to FAULT and the addresses move.`,
  );
  // reload_file: keepalived deletes it once it has read the config, the push's proof the reload took.
  block("global_defs", [`router_id ${lb.name}`, "script_user root", "enable_script_security", `reload_file ${reloadMarkerPath(host.configPath)}`]);
  add("");
  block(`vrrp_script ${VRRP_SCRIPT}`, [
    `script "${haproxyCheckCommand(s)}"`,
    `interval ${k.healthCheck.intervalSeconds}`,
    `timeout ${k.healthCheck.intervalSeconds + 1}`,
    `fall ${k.healthCheck.fall}`,
    `rise ${k.healthCheck.rise}`,
  ]);
  add("");
  block(`vrrp_instance ${VRRP_INSTANCE}`, [
    // nopreempt only works from state BACKUP.
    `state ${k.preempt ? host.role : "BACKUP"}`,
    `interface ${host.interface}`,
    `virtual_router_id ${k.virtualRouterId}`,
    `priority ${host.priority}`,
    `advert_int ${k.advertIntervalSeconds}`,
    ...(k.preempt ? [] : ["nopreempt"]),
    ...(k.unicast ? [`unicast_src_ip ${lb.address}`, ...inner("unicast_peer", peers)] : []),
    ...(family === 4 ? inner("authentication", ["auth_type PASS", `auth_pass ${vrrpAuthToken(secrets.vrrpPassword!)}`]) : []),
    ...inner("virtual_ipaddress", carried.map((a) => vipLine(a, host.interface))),
    // The other family cannot ride in the adverts; keepalived moves these with the instance.
    ...(excluded.length ? inner("virtual_ipaddress_excluded", excluded.map((a) => vipLine(a, host.interface))) : []),
    ...inner("track_script", [VRRP_SCRIPT]),
  ]);
  return lines.join("\n") + "\n";
}

/** Shell command: keepalived's parent (pid file) and its VRRP child are alive. */
export function keepalivedRunningCommand(pidFile: string): string {
  return `pid=$(cat ${shellQuote(pidFile)}) && kill -0 "$pid" && grep -qs "^[0-9]* (keepalived) [RSD] $pid " /proc/[0-9]*/stat`;
}

/** keepalived's reload_file, beside the config: present before the reload, gone once it read the config. */
export function reloadMarkerPath(configPath: string): string {
  return `${configPath}.reload`;
}

/** PushParams for keepalived.conf on `lb`: the same safe push as haproxy.cfg, another file and daemon. */
export function keepalivedPushParams(s: Settings, lb: LoadBalancerSettings): PushParams {
  const host = keepalivedHost(s, lb);
  return {
    label: "keepalived.conf",
    service: "keepalived",
    targetPath: host.configPath,
    // -t also fails on warnings: a missing interface, a truncated password, a VIP of the wrong family.
    validateCommand: 'keepalived -t -f "$CONFIG"',
    reloadCommand: host.reloadCommand,
    verify: { kind: "keepalived-reload-file", reloadMarker: reloadMarkerPath(host.configPath), command: keepalivedRunningCommand(host.pidFile) },
    lockTimeoutSeconds: s.push.lockTimeoutSeconds,
    verifyTimeoutSeconds: s.push.verifyTimeoutSeconds,
    // It holds the VRRP authentication token: mode 0600, keyed digests.
    fileMode: "0600",
    digestKind: "hmac-sha256",
    restoreOverHandEdits: s.push.restoreOverHandEdits,
    takeOverFrom: s.push.takeOverFrom ?? "",
  };
}

export function keepalivedPushCommand(s: Settings, lb: LoadBalancerSettings, input: PushInput): RemoteInvocation {
  return pushInvocation(keepalivedPushParams(s, lb), input, "ingress-haproxy-keepalived-push");
}

export function keepalivedRestoreCommand(s: Settings, lb: LoadBalancerSettings, input: PushInput): RemoteInvocation {
  return restoreInvocation(s, keepalivedPushParams(s, lb), input, "ingress-haproxy-keepalived-restore");
}

/** The sysctl.d file content that keeps nonlocal bind on across reboots. */
export function nonlocalBindSysctl(families: (4 | 6)[]): string {
  return (
    "# Written by the ingress-haproxy Pulumi program: HAProxy binds keepalived floating addresses that a BACKUP does not hold yet.\n" +
    families.map((f) => `net.ipv${f}.ip_nonlocal_bind = 1\n`).join("")
  );
}

/**
 * Sets ip_nonlocal_bind=1 for the families HAProxy binds floating addresses of, now and at boot
 * (sysctlPath). Runs before the haproxy.cfg push on each host.
 */
export function nonlocalBindCommand(s: Settings): string {
  const families = nonlocalBindFamilies(s);
  const path = keepalivedOf(s).sysctlPath;
  const script = [
    "set -euo pipefail",
    `path=${shellQuote(path)}`,
    'mkdir -p -- "$(dirname -- "$path")"',
    'tmp=$(mktemp -- "$path.XXXXXX")',
    `printf '%s' ${shellQuote(nonlocalBindSysctl(families))} > "$tmp"`,
    'chmod 0644 "$tmp"',
    'mv -f -- "$tmp" "$path"',
    ...families.flatMap((f) => [
      `echo 1 > /proc/sys/net/ipv${f}/ip_nonlocal_bind`,
      `echo "net.ipv${f}.ip_nonlocal_bind = $(cat /proc/sys/net/ipv${f}/ip_nonlocal_bind) (persisted in $path)"`,
    ]),
  ].join("\n");
  return bashCommand(script, "ingress-haproxy-nonlocal-bind");
}

/** Destroy: removes the sysctl.d file; the running value stays until reboot (HAProxy may still bind). */
export function nonlocalBindDeleteCommand(s: Settings): string {
  const path = keepalivedOf(s).sysctlPath;
  return bashCommand(
    `set -euo pipefail\nrm -f -- ${shellQuote(path)}\necho ${shellQuote(`removed ${path}; ip_nonlocal_bind stays on until reboot`)}`,
    "ingress-haproxy-nonlocal-bind-delete",
  );
}
