import { describe, expect, it } from "vitest";
import { createHash, createHmac } from "node:crypto";
import { digestKey } from "../../components/haproxy/digest";
import { compareDrift, driftTargets, knownHostsLine, liveDigest, type DriftTarget } from "../../components/haproxy/drift";
import { HOST_KEY_1, HOST_KEY_2, devRaw, settingsOf } from "../fixtures/settings";

const A = "a".repeat(64);
const B = "b".repeat(64);

function target(name: string, expectedSha256: string): DriftTarget {
  return { name, address: "198.51.100.10", sshPort: 22, user: "root", hostKey: HOST_KEY_1, configPath: "/etc/haproxy/haproxy.cfg", expectedSha256 };
}

describe("compareDrift", () => {
  it.each([
    ["all match", { "lb-1": { digest: A }, "lb-2": { digest: B } }, [`lb-1 ok ${A}`, `lb-2 ok ${B}`], 0],
    ["one drifted", { "lb-1": { digest: A }, "lb-2": { digest: A } }, [`lb-1 ok ${A}`, `lb-2 DRIFTED live=${A} expected=${B}`], 1],
    ["file missing", { "lb-1": { missing: true as const }, "lb-2": { digest: B } }, [`lb-1 DRIFTED live=missing expected=${A}`, `lb-2 ok ${B}`], 1],
    ["unreachable", { "lb-1": { error: "ssh: connect to host 198.51.100.10 port 22: Connection refused" }, "lb-2": { digest: B } }, ["lb-1 ERROR ssh: connect to host 198.51.100.10 port 22: Connection refused", `lb-2 ok ${B}`], 2],
    ["drift wins over error", { "lb-1": { error: "Host key verification failed." }, "lb-2": { digest: A } }, ["lb-1 ERROR Host key verification failed.", `lb-2 DRIFTED live=${A} expected=${B}`], 1],
    ["not checked", { "lb-2": { digest: B } }, ["lb-1 ERROR not checked", `lb-2 ok ${B}`], 2],
  ] as const)("%s", (_, live, lines, code) => {
    expect(compareDrift([target("lb-1", A), target("lb-2", B)], live)).toEqual({ lines, exitCode: code });
  });
});

describe("liveDigest", () => {
  const file = Buffer.from("global\n  log stdout\n");
  const key = digestKey("ssh key");
  it("a plain expected digest: the bare sha256 of the live bytes", () =>
    expect(liveDigest(file, "", 0, A)).toEqual({ digest: createHash("sha256").update(file).digest("hex") }));
  it("a keyed expected digest: the keyed digest, never the plain one", () => {
    const keyed = liveDigest(file, "", 0, `hmac-sha256:${A}`, key);
    expect(keyed).toEqual({ digest: `hmac-sha256:${createHmac("sha256", Buffer.from(key, "hex")).update(file).digest("hex")}` });
    expect(JSON.stringify(keyed)).not.toContain(createHash("sha256").update(file).digest("hex"));
  });
  it("keyed without the key is an error, not a guess", () => expect(liveDigest(file, "", 0, `hmac-sha256:${A}`)).toEqual({ error: "the expected digest is keyed: the drift check needs the stack's SSH private key" }));
  it("a missing file is drift, not an error", () =>
    expect(liveDigest(Buffer.from(""), "cat: /etc/haproxy/haproxy.cfg: No such file or directory\n", 1, A)).toEqual({ missing: true }));
  it("anything else is an error with ssh's last line", () =>
    expect(liveDigest(Buffer.from(""), "Warning: x\nHost key verification failed.\n", 255, A)).toEqual({ error: "Host key verification failed." }));
  it("no output at all", () => expect(liveDigest(Buffer.from(""), "", 255, A)).toEqual({ error: "exit 255" }));
});

describe("knownHostsLine", () => {
  it.each([
    ["198.51.100.10", 22, `198.51.100.10 ${HOST_KEY_1}`],
    ["198.51.100.10", 2222, `[198.51.100.10]:2222 ${HOST_KEY_1}`],
    ["2001:db8::10", 22, `[2001:db8::10]:22 ${HOST_KEY_1}`],
  ])("%s port %d", (addr, port, want) => expect(knownHostsLine(addr, port, HOST_KEY_1)).toBe(want));
  it("drops a comment", () => expect(knownHostsLine("192.0.2.1", 22, `${HOST_KEY_2} root@lb`)).toBe(`192.0.2.1 ${HOST_KEY_2}`));
});

describe("driftTargets", () => {
  const raw = devRaw();
  raw.loadBalancers.push({ name: "lb-2", address: "198.51.100.11", hostKey: HOST_KEY_2, sshPort: 2222, user: "deploy", configPath: "/srv/haproxy.cfg" });
  const settings = settingsOf(raw);

  it("joins the stack output with SSH details from the settings", () => {
    expect(
      driftTargets(
        {
          "lb-1": { address: "198.51.100.10", configPath: "/etc/haproxy/haproxy.cfg", configSha256: A },
          "lb-2": { address: "198.51.100.11", configPath: "/srv/haproxy.cfg", configSha256: B },
        },
        settings,
      ),
    ).toEqual([
      { name: "lb-1", address: "198.51.100.10", sshPort: 22, user: "root", hostKey: HOST_KEY_1, configPath: "/etc/haproxy/haproxy.cfg", expectedSha256: A },
      { name: "lb-2", address: "198.51.100.11", sshPort: 2222, user: "deploy", hostKey: HOST_KEY_2, configPath: "/srv/haproxy.cfg", expectedSha256: B },
    ]);
  });

  it("inline SSH details win (no stack config needed)", () => {
    expect(driftTargets({ "lb-9": { address: "203.0.113.9", configPath: "/x.cfg", configSha256: A, sshPort: 2022, user: "ops", hostKey: HOST_KEY_2 } })).toEqual([
      { name: "lb-9", address: "203.0.113.9", sshPort: 2022, user: "ops", hostKey: HOST_KEY_2, configPath: "/x.cfg", expectedSha256: A },
    ]);
  });

  it("refuses a host without a pinned key, a bad hash, and an empty list", () => {
    expect(() => driftTargets({ "lb-9": { address: "203.0.113.9", configPath: "/x.cfg", configSha256: A } })).toThrow(
      "lb-9: no pinned host key (not in the expected file, and not in the stack config)",
    );
    expect(() => driftTargets({ "lb-1": { address: "198.51.100.10", configPath: "/x", configSha256: "abc" } }, settings)).toThrow("lb-1: expected configSha256 is neither a sha256 hex digest nor hmac-sha256:<hex>");
    expect(() => driftTargets({})).toThrow("no load balancers in the expected hashes");
  });
});
