// SHA-512 crypt ("$6$", Ulrich Drepper's SHA-crypt), as glibc crypt(3) computes it, so HAProxy's
// `userlist ... password` can hold a salted hash instead of the stats password in clear.
import { createHash } from "node:crypto";

const ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Byte triples of the final digest, in the order SHA-crypt encodes them (21 groups of 3, then byte 63). */
const ORDER: readonly [number, number, number][] = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

const sha512 = (...parts: Buffer[]): Buffer => {
  const h = createHash("sha512");
  for (const p of parts) h.update(p);
  return h.digest();
};

/** `count` bytes taken from `block` repeated. */
function stretch(block: Buffer, count: number): Buffer {
  const out = Buffer.alloc(count);
  for (let i = 0; i < count; i++) out[i] = block[i % block.length];
  return out;
}

function encode24(b2: number, b1: number, b0: number, chars: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = "";
  for (let i = 0; i < chars; i++, w >>= 6) out += ALPHABET[w & 0x3f];
  return out;
}

/** True if `salt` is 1-16 characters of the crypt alphabet. */
export function isCryptSalt(salt: string): boolean {
  return /^[./0-9A-Za-z]{1,16}$/.test(salt);
}

/**
 * `$6$<salt>$<hash>` with the default 5000 rounds, byte-identical to glibc `crypt(password, "$6$salt")`
 * and `openssl passwd -6 -salt <salt>`.
 */
export function sha512Crypt(password: string, salt: string): string {
  if (!isCryptSalt(salt)) throw new Error(`SHA-512 crypt salt must be 1-16 characters of [./0-9A-Za-z], got ${JSON.stringify(salt)}`);
  const rounds = 5000;
  const p = Buffer.from(password, "utf8");
  const s = Buffer.from(salt, "ascii");
  const b = sha512(p, s, p);

  const a = createHash("sha512").update(p).update(s);
  let n = p.length;
  for (; n > 64; n -= 64) a.update(b);
  a.update(b.subarray(0, n));
  for (n = p.length; n > 0; n >>= 1) a.update(n & 1 ? b : p);
  let c = a.digest();

  const dp = sha512(...Array<Buffer>(p.length).fill(p));
  const pSeq = stretch(dp, p.length);
  const ds = sha512(...Array<Buffer>(16 + c[0]).fill(s));
  const sSeq = stretch(ds, s.length);

  for (let i = 0; i < rounds; i++) {
    const h = createHash("sha512");
    h.update(i & 1 ? pSeq : c);
    if (i % 3) h.update(sSeq);
    if (i % 7) h.update(pSeq);
    h.update(i & 1 ? c : pSeq);
    c = h.digest();
  }

  const body = ORDER.map(([x, y, z]) => encode24(c[x], c[y], c[z], 4)).join("") + encode24(0, 0, c[63], 2);
  return `$6$${salt}$${body}`;
}

/** A deterministic 16-character crypt salt derived from `seed` (so rendered configs are byte-stable). */
export function derivedSalt(seed: string): string {
  const digest = createHash("sha256").update(seed, "utf8").digest();
  let out = "";
  for (let i = 0; i < 16; i++) out += ALPHABET[digest[i] & 0x3f];
  return out;
}
