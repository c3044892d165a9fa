// Extracts an upstream release snapshot from ../shared/upstream (see its README) into a temporary
// folder, after checking the tarball against the snapshot's SHA256SUMS.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const UPSTREAM = join(__dirname, "..", "..", "..", "shared", "upstream");

export interface Extracted {
  /** The snapshot's top folder. */
  readonly dir: string;
  readonly remove: () => void;
}

export function extractUpstream(tarball: string, paths: string[]): Extracted {
  const file = join(UPSTREAM, tarball);
  const sums = readFileSync(join(UPSTREAM, "SHA256SUMS"), "utf8");
  const expected = sums.split("\n").find((l) => l.trim().endsWith(` ${tarball}`) || l.trim().endsWith(`*${tarball}`))?.split(/\s+/)[0];
  const actual = createHash("sha256").update(readFileSync(file)).digest("hex");
  if (expected !== actual) throw new Error(`${file}: sha256 ${actual} does not match SHA256SUMS (${expected ?? "not listed"})`);
  const parent = mkdtempSync(join(tmpdir(), "ihp-upstream-"));
  // Each snapshot holds one top folder named like the tarball.
  const top = tarball.replace(/\.tar\.gz$/, "");
  execFileSync("tar", ["xzf", file, "-C", parent, ...paths.map((p) => `${top}/${p}`)]);
  return { dir: join(parent, top), remove: () => rmSync(parent, { recursive: true, force: true }) };
}
