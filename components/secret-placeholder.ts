// Text that embeds a secret, shown without the secret: what `npm run render` writes and what the
// stack output `haproxyConfigs` (read in `pulumi preview --diff` and the PR comment) carries.
import type { SecretKey } from "./settings";

/** What a secret looks like in a readable copy: obviously not a real value, and greppable. */
export function placeholder(key: SecretKey): string {
  return `<SECRET-NOT-RENDERED:${key}>`;
}

/**
 * Renders text that embeds a secret without knowing the secret: renders with two different stand-ins,
 * and every token that differs between the two depends on the secret (a clear value or a hash of it).
 * Those tokens become the placeholder, and a comment line above says so.
 */
export function withSecretPlaceholder(key: SecretKey, renderWith: (secret: string) => string): { text: string; placeholders: number } {
  const a = renderWith(`render-stand-in-a-${key}`).split("\n");
  const b = renderWith(`render-stand-in-b-${key}`).split("\n");
  if (a.length !== b.length) throw new Error(`cannot place the ${key} placeholder: the output's line count depends on the secret`);
  const out: string[] = [];
  let placeholders = 0;
  a.forEach((line, i) => {
    if (line === b[i]) return out.push(line);
    const ta = line.split(" ");
    const tb = b[i].split(" ");
    if (ta.length !== tb.length) throw new Error(`cannot place the ${key} placeholder in line ${i + 1}`);
    const indent = line.match(/^ */)![0];
    out.push(`${indent}# ${key} is a secret: this copy shows a placeholder; \`pulumi up\` pushes the real line.`);
    out.push(ta.map((t, j) => (t === tb[j] ? t : placeholder(key))).join(" "));
    placeholders++;
  });
  return { text: out.join("\n"), placeholders };
}
