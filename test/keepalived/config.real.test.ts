// Every golden keepalived.conf passes real `keepalived -t` (2.2.7 fails on warnings too). The check runs
// in a throwaway network namespace that has the interfaces the files name (eth0, eth1), so it does not
// depend on this machine's interface names. A broken file fails the same check the push runs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keepalivedPushParams, renderKeepalivedConfig } from "../../components/keepalived/config";
import { KEEPALIVED_CASES, goldenPath, pairSettings } from "./cases";

/** Runs `command` with CONFIG=file in a new network namespace with eth0 and eth1 (a veth pair). */
function checkInNetns(command: string, file: string): { code: number | null; out: string } {
  const r = spawnSync("unshare", ["-n", "bash", "-c", `ip link add eth0 type veth peer name eth1 && ${command}`], {
    encoding: "utf8",
    env: { ...process.env, CONFIG: file },
    timeout: 30_000,
  });
  return { code: r.status, out: (r.stdout + r.stderr).trim() };
}

const VALIDATE = keepalivedPushParams(pairSettings(), pairSettings().loadBalancers[0]).validateCommand;
let dir: string;

beforeAll(() => {
  for (const tool of ["keepalived", "unshare", "ip"])
    if (spawnSync("bash", ["-c", `PATH=$PATH:/usr/sbin:/sbin command -v ${tool}`]).status !== 0)
      throw new Error(`the keepalived real tests need ${tool}: apt-get install -y keepalived util-linux iproute2`);
  if (process.getuid?.() !== 0) throw new Error("the keepalived real tests need root (a network namespace with the files' interfaces)");
  dir = mkdtempSync(join(tmpdir(), "ihp-keepalived-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("golden files pass real keepalived -t (the push's validate command)", () => {
  it("the validate command is keepalived -t -f", () => expect(VALIDATE).toBe('keepalived -t -f "$CONFIG"'));
  for (const c of KEEPALIVED_CASES) {
    it(`golden/${c.name}.conf`, () => {
      expect(checkInNetns(VALIDATE, goldenPath(c.name))).toEqual({ code: 0, out: "" });
    });
  }
});

describe("what keepalived -t refuses, so the push never installs it", () => {
  const s = pairSettings();
  const good = renderKeepalivedConfig(s, s.loadBalancers[0], { vrrpPassword: "pw" });
  const cases: [string, string, string][] = [
    ["an interface the host does not have", good.replace(/eth0/g, "ens9"), "WARNING - interface ens9 for vrrp_instance ingress_haproxy doesn't exist"],
    ["a clear 9-character auth_pass (keepalived would truncate it)", good.replace(/auth_pass \S+/, "auth_pass 123456789"), "Truncating auth_pass to 8 characters"],
    ["an IPv6 address among the IPv4 instance's advertised addresses", good.replace("198.51.100.100/32 dev eth0", "198.51.100.100/32 dev eth0\n        2001:db8::100/128 dev eth0"), "address family must match VRRP instance [2001:db8::100/128] - ignoring"],
  ];
  it.each(cases)("%s", (_name, text, message) => {
    const file = join(dir, `bad-${Math.random().toString(36).slice(2)}.conf`);
    writeFileSync(file, text);
    const r = checkInNetns(VALIDATE, file);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(message);
  });
});
