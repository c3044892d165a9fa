// The readable copy of haproxy.cfg (stack output haproxyConfigs, shown by `pulumi preview --diff`):
// the pushed bytes, except that nothing derived from a secret survives.
import { describe, expect, it } from "vitest";
import { renderHaproxyConfig, statsSalt } from "../../components/haproxy/config";
import { sha512Crypt } from "../../components/haproxy/crypt";
import { readableHaproxyConfig, readableHaproxyConfigs } from "../../components/haproxy/readable";
import { placeholder } from "../../components/secret-placeholder";
import { expectGolden } from "../fixtures/golden";
import { devRaw, settingsOf } from "../fixtures/settings";
import { CONFIG_CASES, GOLDEN_DIR, GOLDEN_STATS_PASSWORD } from "./cases";

const PLACEHOLDER_NOTE = "    # statsPassword is a secret: this copy shows a placeholder; `pulumi up` pushes the real line.";
const render = (c: (typeof CONFIG_CASES)[number], statsPassword = c.statsPassword) =>
  renderHaproxyConfig(c.settings, c.lb, statsPassword === undefined ? undefined : { statsPassword });

describe("readableHaproxyConfig", () => {
  const withoutStats = CONFIG_CASES.filter((c) => !c.settings.haproxy.stats.enabled);
  const withStats = CONFIG_CASES.filter((c) => c.settings.haproxy.stats.enabled);

  it("covers cases with and without stats", () => {
    expect(withoutStats.map((c) => c.name)).toEqual(["dev", "community", "proxy-v2", "one-node"]);
    expect(withStats.map((c) => c.name)).toEqual(["ipv6", "stats"]);
  });

  it.each(withoutStats)("$name: no secret in the file: the readable copy is the pushed file, byte for byte", (c) => {
    expect(readableHaproxyConfig(c.settings, c.lb)).toEqual({ text: render(c), placeholders: 0 });
  });

  it("stats matches golden/stats.readable.cfg (UPDATE_GOLDEN=1 rewrites it)", () => {
    const c = withStats.find((x) => x.name === "stats")!;
    expectGolden(`${GOLDEN_DIR}/stats.readable.cfg`, readableHaproxyConfig(c.settings, c.lb).text);
  });

  it.each(withStats)("$name: the hash line becomes the note and a placeholder; every other line is the pushed one", (c) => {
    const pushed = render(c).split("\n");
    const hash = sha512Crypt(GOLDEN_STATS_PASSWORD, statsSalt(c.lb, c.settings.haproxy.stats.user));
    const hashLine = pushed.findIndex((l) => l.includes(hash));
    // Counterfactual: the pushed file does hold the hash, in exactly one line.
    expect(pushed.filter((l) => l.includes(hash))).toEqual([`    user ${c.settings.haproxy.stats.user} password ${hash}`]);
    const { text, placeholders } = readableHaproxyConfig(c.settings, c.lb);
    expect(placeholders).toBe(1);
    expect(text.split("\n")).toEqual([
      ...pushed.slice(0, hashLine),
      PLACEHOLDER_NOTE,
      `    user ${c.settings.haproxy.stats.user} password ${placeholder("statsPassword")}`,
      ...pushed.slice(hashLine + 1),
    ]);
  });

  it.each(withStats)("$name: depends on no secret: two passwords' pushed files differ, their readable copies cannot", (c) => {
    const a = render(c, "first-password");
    const b = render(c, "second-password");
    expect(a).not.toBe(b);
    const readable = readableHaproxyConfig(c.settings, c.lb).text;
    for (const pushed of [a, b]) {
      const hash = pushed.split("\n").find((l) => l.includes(" password "))!.split(" ").pop()!;
      expect(hash).toMatch(/^\$6\$/);
      expect(readable).not.toContain(hash);
      // Not even the salt: with it and the hash an attacker could start guessing offline.
      expect(readable).not.toContain(hash.split("$")[2]);
    }
    expect(readable).not.toMatch(/\$6\$/);
  });
});

describe("readableHaproxyConfigs (the stack output)", () => {
  it("has one entry per load balancer, in the settings' order", () => {
    const raw = devRaw();
    raw.loadBalancers = [raw.loadBalancers[0], { ...raw.loadBalancers[0], name: "lb-2", address: "198.51.100.11" }];
    const s = settingsOf(raw);
    expect(readableHaproxyConfigs(s)).toEqual({
      "lb-1": renderHaproxyConfig(s, s.loadBalancers[0]),
      "lb-2": renderHaproxyConfig(s, s.loadBalancers[1]),
    });
  });

  it("a new node changes each LB's copy by exactly its two server lines (what the preview diff shows)", () => {
    const before = settingsOf(devRaw());
    const raw = devRaw();
    raw.nodes.push({ name: "node-4", address: "192.0.2.14" });
    const after = settingsOf(raw);
    const old = readableHaproxyConfigs(before)["lb-1"].split("\n");
    const now = readableHaproxyConfigs(after)["lb-1"].split("\n");
    expect(now.filter((l) => !old.includes(l))).toEqual([
      "    server node-4 192.0.2.14:30111 send-proxy check",
      "    server node-4 192.0.2.14:30112 send-proxy check port 30111 check-send-proxy",
    ]);
    expect(old.filter((l) => !now.includes(l))).toEqual([]);
    expect(now.length).toBe(old.length + 2);
  });
});
