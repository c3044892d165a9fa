// Kubernetes label selectors in their string form (`kubectl get nodes -l ...`), parsed and matched
// here so that a live listing and a saved Nodes list (render --nodes-yaml) select with the same code.
// Grammar (k8s.io/apimachinery/pkg/labels): requirements separated by ',', each one of
//   key | !key | key=value | key==value | key!=value | key in (v1,v2) | key notin (v1,v2)

export const LABEL_NAME = "[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?";
export const LABEL_KEY_RE = new RegExp(`^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?${LABEL_NAME}$`);
export const LABEL_VALUE_RE = new RegExp(`^(?:${LABEL_NAME})?$`);

export type Requirement =
  | { readonly key: string; readonly op: "exists" | "!exists" }
  | { readonly key: string; readonly op: "in" | "notin"; readonly values: readonly string[] };

export type ParsedSelector = { ok: true; requirements: Requirement[] } | { ok: false; error: string };

const SET_RE = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/;
const EQ_RE = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/;

/** Splits on the commas that are not inside a set's parentheses. */
function splitRequirements(selector: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    if (depth < 0 || depth > 1) return undefined;
    if (c === "," && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return undefined;
  parts.push(selector.slice(start));
  return parts.map((p) => p.trim());
}

function badKey(key: string): string | undefined {
  return LABEL_KEY_RE.test(key) ? undefined : `${JSON.stringify(key)} is not a label key ([prefix/]name, name at most 63 letters, digits, '-', '_' or '.')`;
}

function badValue(value: string): string | undefined {
  return LABEL_VALUE_RE.test(value) ? undefined : `${JSON.stringify(value)} is not a label value (at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric)`;
}

function parseRequirement(text: string): Requirement | string {
  if (text === "") return "has an empty requirement (two commas in a row, or a comma at an end)";
  const set = SET_RE.exec(text);
  if (set) {
    const values = set[3].split(",").map((v) => v.trim());
    if (values.length === 1 && values[0] === "") return `${JSON.stringify(text)}: a set needs at least one value, e.g. ${set[1]} ${set[2]} (a,b)`;
    const bad = badKey(set[1]) ?? values.map(badValue).find((m) => m !== undefined);
    return bad ?? { key: set[1], op: set[2] as "in" | "notin", values };
  }
  const eq = EQ_RE.exec(text);
  if (eq) {
    const bad = badKey(eq[1]) ?? badValue(eq[3]);
    return bad ?? { key: eq[1], op: eq[2] === "!=" ? "notin" : "in", values: [eq[3]] };
  }
  const not = /^!\s*(\S+)$/.exec(text);
  if (not) return badKey(not[1]) ?? { key: not[1], op: "!exists" };
  if (!/\s/.test(text)) return badKey(text) ?? { key: text, op: "exists" };
  return `${JSON.stringify(text)} is not a requirement`;
}

/** Parses a selector; "" selects every node (as `kubectl get nodes -l ''` does). */
export function parseLabelSelector(selector: string): ParsedSelector {
  const parts = splitRequirements(selector);
  if (!parts) return { ok: false, error: "has unbalanced parentheses" };
  if (parts.length === 1 && parts[0] === "") return { ok: true, requirements: [] };
  const requirements: Requirement[] = [];
  for (const part of parts) {
    const r = parseRequirement(part);
    if (typeof r === "string") return { ok: false, error: r };
    requirements.push(r);
  }
  return { ok: true, requirements };
}

/** Whether `labels` satisfy every requirement (apimachinery semantics: `!=`/notin also match a missing key). */
export function matchesSelector(requirements: readonly Requirement[], labels: Readonly<Record<string, string>>): boolean {
  return requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case "exists":
        return has;
      case "!exists":
        return !has;
      case "in":
        return has && r.values.includes(labels[r.key]);
      case "notin":
        return !has || !r.values.includes(labels[r.key]);
    }
  });
}
