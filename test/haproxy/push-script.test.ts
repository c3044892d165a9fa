import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { bashCommand, haproxyPushParams, leaveCommand, pushCommand, pushFiles, renderBindCheck, renderPushScript, renderRestoreScript, restoreCommand, shellQuote, type PushParams } from "../../components/haproxy/push-script";
import { devRaw, settingsOf } from "../fixtures/settings";

const dev = settingsOf(devRaw());
const lb = dev.loadBalancers[0];

describe("shellQuote / bashCommand", () => {
  it.each(["plain", "it's", "a'b'c", "$(rm -rf /) `x` \\ \"q\"", "line1\nline2", ""])("round-trips %j through sh", (v) => {
    const r = spawnSync("sh", ["-c", `printf %s ${shellQuote(v)}`], { encoding: "utf8" });
    expect(r.stdout).toBe(v);
  });
  it("quotes exactly", () => expect(shellQuote("it's")).toBe(`'it'\\''s'`));
  it("bashCommand runs the script with bash, $0 = name, stdin free", () => {
    const cmd = bashCommand('echo "$0:$(cat)"', "my-name");
    expect(cmd).toBe(`bash -c 'echo "$0:$(cat)"' 'my-name'`);
    expect(spawnSync("sh", ["-c", cmd], { input: "in", encoding: "utf8" }).stdout).toBe("my-name:in\n");
  });
});

describe("haproxyPushParams", () => {
  it("maps settings to the generic params", () => {
    expect(haproxyPushParams(dev, lb)).toEqual({
      label: "haproxy.cfg",
      service: "haproxy",
      targetPath: "/etc/haproxy/haproxy.cfg",
      validateCommand: 'haproxy -c -f "$CONFIG"',
      preReloadCheck: renderBindCheck("/run/haproxy.pid"),
      reloadCommand: "systemctl reload haproxy",
      verify: { kind: "haproxy-master-worker", pidFile: "/run/haproxy.pid" },
      lockTimeoutSeconds: 60,
      verifyTimeoutSeconds: 15,
      fileMode: "0644",
    });
  });
  it("stats on: the file holds a password hash, mode 0600", () => {
    const s = settingsOf({ ...devRaw(), haproxy: { stats: { enabled: true } } });
    expect(haproxyPushParams(s, s.loadBalancers[0]).fileMode).toBe("0600");
  });
  it("files beside the target", () =>
    expect(pushFiles("/etc/haproxy/haproxy.cfg")).toEqual({
      backup: "/etc/haproxy/haproxy.cfg.bak",
      orig: "/etc/haproxy/haproxy.cfg.orig",
      origAbsent: "/etc/haproxy/haproxy.cfg.orig-absent",
      lock: "/etc/haproxy/haproxy.cfg.lock",
    }));
});

describe("rendered scripts", () => {
  const p = haproxyPushParams(dev, lb);
  it("carry every parameter as a quoted assignment, in this order", () => {
    const vars = renderPushScript(p)
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l));
    expect(vars).toEqual([
      "LABEL='haproxy.cfg'",
      "SERVICE='haproxy'",
      "TARGET='/etc/haproxy/haproxy.cfg'",
      "BACKUP='/etc/haproxy/haproxy.cfg.bak'",
      "ORIG='/etc/haproxy/haproxy.cfg.orig'",
      "ORIG_ABSENT='/etc/haproxy/haproxy.cfg.orig-absent'",
      "LOCK='/etc/haproxy/haproxy.cfg.lock'",
      `VALIDATE_COMMAND='haproxy -c -f "$CONFIG"'`,
      `PRE_RELOAD_CHECK=${shellQuote(renderBindCheck("/run/haproxy.pid"))}`.split("\n")[0],
      "RELOAD_COMMAND='systemctl reload haproxy'",
      "VERIFY_KIND='haproxy-master-worker'",
      "PID_FILE='/run/haproxy.pid'",
      "VERIFY_COMMAND=''",
      "LOCK_TIMEOUT=60",
      "VERIFY_TIMEOUT=15",
      "FILE_MODE=0644",
      "TEMP_FILES=()",
      'TEMP=""',
      'WORKERS_BEFORE=" "',
      'NEW_WORKER=""',
      'REASON=""',
      "NEW=$TEMP",
    ]);
  });
  it("are deterministic and carry no `${`-escapes or template leftovers", () => {
    expect(renderPushScript(p)).toBe(renderPushScript(haproxyPushParams(settingsOf(devRaw()), lb)));
    for (const script of [renderPushScript(p), renderRestoreScript(p)]) {
      expect(script.startsWith("#!/usr/bin/env bash\n")).toBe(true);
      expect(script).not.toContain("\\${");
      expect(script).toContain('for f in "${TEMP_FILES[@]}"; do rm -f -- "$f"; done');
    }
  });
  it("pass bash -n", () => {
    for (const script of [renderPushScript(p), renderRestoreScript(p), renderBindCheck("/run/haproxy.pid")]) expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
  });
  it("run the pre-reload check under the lock, after the running check, before anything changes", () => {
    const push = renderPushScript(p);
    const order = ["take_lock\n", "is not running (no live master", 'pre_reload_check "$NEW"\n', "# First push on this host", 'swap_in "$NEW"\n'].map((m) => push.indexOf(m, push.indexOf("\nnew_temp\nNEW=$TEMP")));
    expect(order.every((i, k) => i > 0 && (k === 0 || i > order[k - 1])), String(order)).toBe(true);
    const restore = renderRestoreScript(p);
    expect(restore.indexOf('pre_reload_check "$NEW" "; left the pushed $LABEL in place"\n')).toBeLessThan(restore.indexOf('  swap_in "$NEW"\n'));
    expect(restore).toContain('pre_reload_check "$NEW" "; left the pushed $LABEL in place"\n  swap_in "$NEW"\n');
  });
  it("without preReloadCheck the check is an empty no-op (keepalived)", () => {
    const { preReloadCheck: _, ...generic } = p;
    expect(renderPushScript(generic)).toContain("\nPRE_RELOAD_CHECK=''\n");
    expect(renderPushScript(generic)).toContain("[[ -n $PRE_RELOAD_CHECK ]] || return 0");
  });
  it("the bind check carries the pid file quoted", () => {
    expect(renderBindCheck("/run/it's.pid").split("\n").slice(0, 3)).toEqual([
      "# Pre-reload bind check for the candidate haproxy.cfg in $CONFIG (generated by ingress-haproxy).",
      "set -euo pipefail",
      "pid_file='/run/it'\\''s.pid'",
    ]);
  });
  it("quote hostile reload commands safely", () => {
    const s = settingsOf({ ...devRaw(), loadBalancers: [{ ...devRaw().loadBalancers[0], reloadCommand: `kill -USR2 $(cat /run/haproxy.pid) # it's` }] });
    expect(renderPushScript(haproxyPushParams(s, s.loadBalancers[0]))).toContain(`RELOAD_COMMAND='kill -USR2 $(cat /run/haproxy.pid) # it'\\''s'\n`);
  });
  it("refuse bad params", () => {
    const bad = (over: Partial<PushParams>) => () => renderPushScript({ ...p, ...over });
    expect(bad({ targetPath: "relative.cfg" })).toThrow('targetPath must be an absolute file path, got "relative.cfg"');
    expect(bad({ fileMode: "rw" })).toThrow('fileMode must be an octal mode such as 0644, got "rw"');
    expect(bad({ lockTimeoutSeconds: 0 })).toThrow("lockTimeoutSeconds must be a whole number of seconds >= 1, got 0");
    expect(bad({ label: "a b" })).toThrow("label and service may hold only letters, digits, '.', '_' and '-'");
  });
});

describe("component commands", () => {
  it("create runs the push script with bash, delete the restore script", () => {
    expect(pushCommand(dev, lb)).toBe(bashCommand(renderPushScript(haproxyPushParams(dev, lb)), "ingress-haproxy-push"));
    expect(restoreCommand(dev, lb)).toBe(bashCommand(renderRestoreScript(haproxyPushParams(dev, lb)), "ingress-haproxy-restore"));
  });
  it("onDestroy leave only says so", () => {
    const s = settingsOf({ ...devRaw(), push: { onDestroy: "leave" } });
    expect(restoreCommand(s, s.loadBalancers[0])).toBe("echo 'push.onDestroy is leave: leaving /etc/haproxy/haproxy.cfg in place'");
    expect(leaveCommand(haproxyPushParams(s, s.loadBalancers[0]))).toBe(restoreCommand(s, s.loadBalancers[0]));
  });
});
