// The program's side of the push: only parameter assignments in front of push.sh, quoted soundly;
// the digests (plain for secret-free files, keyed for files with secrets); the shell files themselves
// pass shellcheck and `bash -n`.
import { spawnSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configDigest, digestKey, exportedDigest, parseDigest } from "../../components/haproxy/digest";
import { bashCommand, haproxyPushParams, pushAssignments, pushCommand, pushFiles, pushStdin, renderBindCheck, renderPushScript, restoreCommand, shellQuote, type PushParams } from "../../components/haproxy/push-script";
import { devRaw, settingsOf } from "../fixtures/settings";

const dev = settingsOf(devRaw());
const lb = dev.loadBalancers[0];
const KEY = digestKey("an ssh private key");
const PUSH_SH = readFileSync(join(__dirname, "../../components/haproxy/push.sh"), "utf8");
const input = (content: string) => ({ content, digestKey: KEY, owner: "ingress-lb-lb-1-push" });

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

describe("digests", () => {
  it("the key is derived from the SSH private key; keyed and plain digests differ", () => {
    expect(KEY).toMatch(/^[0-9a-f]{64}$/);
    expect(digestKey("another key")).not.toBe(KEY);
    const plain = configDigest("x\n", "sha256");
    expect(plain).toBe(`sha256:${createHash("sha256").update("x\n").digest("hex")}`);
    const keyed = configDigest("x\n", "hmac-sha256", KEY);
    expect(keyed).toBe(`hmac-sha256:${createHmac("sha256", Buffer.from(KEY, "hex")).update("x\n").digest("hex")}`);
    expect(parseDigest(keyed)).toEqual({ kind: "hmac-sha256", hex: keyed.slice(12) });
    expect(parseDigest("md5:00")).toBeUndefined();
    expect(exportedDigest(plain)).toBe(plain.slice(7));
    expect(exportedDigest(keyed)).toBe(keyed);
    expect(() => configDigest("x", "hmac-sha256")).toThrow("an hmac-sha256 digest needs the 64-hex-digit digest key");
  });
});

describe("haproxyPushParams", () => {
  it("maps settings to the generic params", () => {
    expect(haproxyPushParams(dev, lb)).toEqual({
      label: "haproxy.cfg",
      service: "haproxy",
      targetPath: "/etc/haproxy/haproxy.cfg",
      validateCommand: 'haproxy -c -f "$CONFIG"',
      bindCheck: renderBindCheck("/run/haproxy.pid"),
      reloadCommand: "systemctl reload haproxy",
      verify: { kind: "haproxy-master-worker", pidFile: "/run/haproxy.pid" },
      lockTimeoutSeconds: 60,
      verifyTimeoutSeconds: 15,
      fileMode: "0644",
      digestKind: "sha256",
      restoreOverHandEdits: false,
      takeOverFrom: "",
    });
  });
  it("stats on: the file holds a password hash, mode 0600 and keyed digests", () => {
    const s = settingsOf({ ...devRaw(), haproxy: { stats: { enabled: true } } });
    expect(haproxyPushParams(s, s.loadBalancers[0])).toMatchObject({ fileMode: "0600", digestKind: "hmac-sha256" });
  });
  it("files beside the target", () =>
    expect(pushFiles("/etc/haproxy/haproxy.cfg")).toEqual({
      good: "/etc/haproxy/haproxy.cfg.good",
      orig: "/etc/haproxy/haproxy.cfg.orig",
      origAbsent: "/etc/haproxy/haproxy.cfg.orig-absent",
      lock: "/etc/haproxy/haproxy.cfg.lock",
      journal: "/etc/haproxy/haproxy.cfg.journal",
    }));
});

describe("rendered scripts", () => {
  const p = haproxyPushParams(dev, lb);
  const cfg = "global\n    master-worker\n";
  it("are the parameter assignments, then push.sh unchanged", () => {
    const script = renderPushScript(p, "push", input(cfg));
    expect(script.endsWith(`\n${PUSH_SH}`)).toBe(true);
    const head = script.slice(0, script.length - PUSH_SH.length).split("\n");
    expect(head.filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split("=")[0])).toEqual([
      "MODE", "LABEL", "SERVICE", "TARGET", "VALIDATE_COMMAND", "BIND_CHECK", "BIND_CHECK_BEFORE_RELOAD", "RELOAD_COMMAND", "VERIFY_KIND", "PID_FILE",
      "RELOAD_MARKER", "VERIFY_COMMAND", "LOCK_TIMEOUT", "VERIFY_TIMEOUT", "FILE_MODE", "DIGEST_KIND", "EXPECT_BYTES", "EXPECT_DIGEST", "GENERATION", "OWNER",
      "RESTORE_OVER_EDITS", "TAKE_OVER_FROM", "HOOK_DIR",
    ]);
    expect(Object.fromEntries(pushAssignments(p, "push", input(cfg)))).toMatchObject({
      EXPECT_BYTES: String(Buffer.byteLength(cfg)),
      EXPECT_DIGEST: configDigest(cfg, "sha256"),
      DIGEST_KIND: "sha256",
      OWNER: "ingress-lb-lb-1-push",
    });
  });
  it("carry no bash assembled in TypeScript: no `${`-escapes, and every value is one quoted word", () => {
    const script = renderPushScript(p, "push", input(cfg));
    expect(script).not.toContain("\\${");
    const r = spawnSync("bash", ["-c", `${script.slice(0, script.length - PUSH_SH.length)}\nprintf '%s\\n' "$TARGET" "$EXPECT_DIGEST" "$RELOAD_COMMAND"`], { encoding: "utf8" });
    expect(r.stdout).toBe(`/etc/haproxy/haproxy.cfg\n${configDigest(cfg, "sha256")}\nsystemctl reload haproxy\n`);
  });
  it("a hostile path and reload command stay data (the quoting found sound, kept)", () => {
    // The settings refuse such a path; the script's quoting must not depend on that.
    const target = "/tmp/it's $(touch X) \\ ü x.cfg";
    const script = renderPushScript({ ...p, targetPath: target, reloadCommand: `kill -USR2 $(cat /run/haproxy.pid) # it's` }, "push", input(cfg));
    const r = spawnSync("bash", ["-c", `${script.slice(0, script.length - PUSH_SH.length)}\nprintf '%s\\n' "$TARGET" "$RELOAD_COMMAND"`], { encoding: "utf8" });
    expect(r.stdout).toBe(`${target}\nkill -USR2 $(cat /run/haproxy.pid) # it's\n`);
  });
  it("keyed files: stdin starts with the digest key line; the command carries only the keyed digest", () => {
    const s = settingsOf({ ...devRaw(), haproxy: { stats: { enabled: true } } });
    const push = pushCommand(s, s.loadBalancers[0], input(cfg));
    expect(push.stdin).toBe(`digest-key ${KEY}\n${cfg}`);
    expect(push.command).toContain(configDigest(cfg, "hmac-sha256", KEY));
    expect(push.command).not.toContain(configDigest(cfg, "sha256").slice(7));
    expect(push.command).not.toContain(KEY);
    expect(() => pushCommand(s, s.loadBalancers[0], { content: cfg, owner: "x" })).toThrow("haproxy.cfg holds a secret: its push needs the digest key (digestKey(sshPrivateKey))");
  });
  it("secret-free files: stdin is the file", () => expect(pushStdin(p, input(cfg))).toBe(cfg));
  it("pass bash -n and shellcheck (push.sh, bind-check.sh, rendered)", () => {
    for (const script of [renderPushScript(p, "push", input(cfg)), renderPushScript(p, "restore", input(cfg)), renderBindCheck("/run/haproxy.pid")]) {
      expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
      const r = spawnSync("shellcheck", ["--shell=bash", "--severity=style", "-"], { input: script, encoding: "utf8" });
      expect({ code: r.status, out: r.stdout + r.stderr }).toEqual({ code: 0, out: "" });
    }
  });
  it("use no bash-5-only features (EPOCHREALTIME, EPOCHSECONDS, SRANDOM, wait -p)", () => {
    for (const text of [PUSH_SH, renderBindCheck("/x")]) expect(text).not.toMatch(/EPOCHREALTIME|EPOCHSECONDS|SRANDOM|wait -p/);
  });
  it("refuse bad params and inputs", () => {
    const bad = (over: Partial<PushParams>) => () => renderPushScript({ ...p, ...over }, "push", input(cfg));
    expect(bad({ targetPath: "relative.cfg" })).toThrow('targetPath must be an absolute file path, got "relative.cfg"');
    expect(bad({ fileMode: "rw" })).toThrow('fileMode must be an octal mode such as 0644, got "rw"');
    expect(bad({ lockTimeoutSeconds: 0 })).toThrow("lockTimeoutSeconds must be a whole number of seconds >= 1, got 0");
    expect(bad({ label: "a b" })).toThrow("label and service may hold only letters, digits, '.', '_' and '-'");
    expect(bad({ takeOverFrom: "staging" })).toThrow('takeOverFrom must be <project>:<stack>, got "staging"');
    expect(() => renderPushScript(p, "push", { ...input(cfg), generation: -1 })).toThrow("generation must be a whole number >= 0, got -1");
    expect(() => renderPushScript(p, "push", { ...input(cfg), owner: "a b" })).toThrow('owner must be a resource name');
  });
});

describe("component commands", () => {
  it("create runs push.sh in push mode, delete in restore mode, both with bash", () => {
    expect(pushCommand(dev, lb, input("x\n")).command).toBe(bashCommand(renderPushScript(haproxyPushParams(dev, lb), "push", input("x\n")), "ingress-haproxy-push"));
    expect(restoreCommand(dev, lb, input("x\n")).command).toBe(bashCommand(renderPushScript(haproxyPushParams(dev, lb), "restore", input("x\n")), "ingress-haproxy-restore"));
  });
  it("onDestroy leave only says so", () => {
    const s = settingsOf({ ...devRaw(), push: { onDestroy: "leave" } });
    expect(restoreCommand(s, s.loadBalancers[0], input("x\n")).command).toBe("echo 'push.onDestroy is leave: leaving /etc/haproxy/haproxy.cfg in place'");
  });
});
