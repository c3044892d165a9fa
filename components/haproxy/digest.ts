// Digests of pushed config files. A plain sha256 of a file that holds a secret (the stats password
// hash in haproxy.cfg, the VRRP token in keepalived.conf) lets anyone who sees it test password guesses
// offline, so those files get an HMAC-SHA256 keyed with a key derived from the stack's SSH private key
// (the operator and the drift check hold it; a reader of logs or stack outputs does not). Secret-free
// files keep a plain sha256. The push script (push.sh) computes the same digests on the host.
import { createHash, createHmac } from "node:crypto";

export type DigestKind = "sha256" | "hmac-sha256";

/** A digest as printed and exported: "sha256:<hex>" or "hmac-sha256:<hex>". */
export type Digest = `${DigestKind}:${string}`;

const KEY_CONTEXT = "ingress-haproxy config digest v1";

/** The 32-byte digest key (hex) derived from the SSH private key (HMAC-SHA256 with a fixed context). */
export function digestKey(sshPrivateKey: string): string {
  // Trimmed: the key file and the secret set with `cat KEYFILE | pulumi config set` may differ in the final newline.
  const key = sshPrivateKey.trim();
  if (!key) throw new Error("digestKey needs the SSH private key (secret config sshPrivateKey)");
  return createHmac("sha256", key).update(KEY_CONTEXT).digest("hex");
}

/** The digest of `content` of the given kind; `keyHex` is required for hmac-sha256. */
export function configDigest(content: string | Buffer, kind: DigestKind, keyHex?: string): Digest {
  if (kind === "sha256") return `sha256:${createHash("sha256").update(content).digest("hex")}`;
  if (!keyHex || !/^[0-9a-f]{64}$/.test(keyHex)) throw new Error("an hmac-sha256 digest needs the 64-hex-digit digest key");
  return `hmac-sha256:${createHmac("sha256", Buffer.from(keyHex, "hex")).update(content).digest("hex")}`;
}

/** Parses "sha256:<hex>" / "hmac-sha256:<hex>"; undefined for anything else. */
export function parseDigest(text: string): { kind: DigestKind; hex: string } | undefined {
  const m = /^(sha256|hmac-sha256):([0-9a-f]{64})$/.exec(text);
  return m ? { kind: m[1] as DigestKind, hex: m[2] } : undefined;
}

/**
 * The digest as the stack exports it (`configSha256`): the bare hex of a plain sha256 (unchanged for
 * secret-free files), "hmac-sha256:<hex>" for a file that holds a secret.
 */
export function exportedDigest(d: Digest): string {
  return d.startsWith("sha256:") ? d.slice("sha256:".length) : d;
}
