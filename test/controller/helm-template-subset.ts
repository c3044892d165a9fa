// Stand-in for `helm template` (helm is not installed on these machines): renders a Helm chart
// template with the chart's own values.yaml, for the few constructs the controller charts' RBAC, args
// and security-context templates use. Anything else throws, so a chart that changes shape fails the
// comparison instead of being misread. Control actions must sit on their own line, as in those charts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";

type Value = unknown;

export interface Chart {
  /** Values: the chart's values.yaml with the overrides given to loadChart. */
  readonly values: Record<string, Value>;
  /** Named templates (`include`) this test supplies, by name. */
  readonly includes: Record<string, string>;
  readonly dir: string;
}

export function loadChart(dir: string, overrides: Record<string, Value>, includes: Record<string, string>): Chart {
  const values = merge(YAML.parse(readFileSync(join(dir, "values.yaml"), "utf8")), overrides) as Record<string, Value>;
  return { values, includes, dir };
}

/** The body of `{{- define "name" -}}` in one of the chart's template files. */
export function defineBody(chart: Chart, file: string, name: string): string {
  const text = readFileSync(join(chart.dir, "templates", file), "utf8");
  const start = text.indexOf(`{{- define "${name}" -}}`);
  if (start < 0) throw new Error(`no define "${name}" in ${file}`);
  const body = text.slice(text.indexOf("\n", start) + 1);
  let depth = 0;
  const lines: string[] = [];
  for (const line of body.split("\n")) {
    const action = controlAction(line);
    if (action && /^(if|range|with|define)\b/.test(action)) depth++;
    if (action && /^end\b/.test(action) && depth-- === 0) return lines.join("\n");
    lines.push(line);
  }
  throw new Error(`define "${name}" in ${file} has no end`);
}

/** Renders `text` (a template file's content, or part of it) line by line. */
export function render(chart: Chart, text: string): string {
  const out: string[] = [];
  // Each open block: whether its body is being emitted, and whether a branch was already taken.
  const stack: { emit: boolean; taken: boolean; parentEmit: boolean }[] = [];
  const emitting = () => stack.every((b) => b.emit);
  for (const line of text.split("\n")) {
    const action = controlAction(line);
    if (action === undefined) {
      if (emitting()) out.push(line.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_m, expr: string) => String(evaluate(chart, expr))));
      continue;
    }
    if (/^\/\*.*\*\/$/.test(action)) continue;
    const [keyword, rest] = splitFirst(action);
    if (keyword === "if" || keyword === "with" || keyword === "range") {
      const parentEmit = emitting();
      const expr = keyword === "range" ? rest.replace(/^\$\w+,\s*\$\w+\s*:=\s*/, "") : rest;
      const on = parentEmit && truthy(evaluate(chart, expr));
      // A taken `with` or a non-empty `range` rebinds `.`: not supported.
      if (on && keyword !== "if") throw new Error(`unsupported: ${keyword} over a non-empty value (${rest})`);
      stack.push({ emit: on, taken: on, parentEmit });
    } else if (keyword === "else") {
      const block = stack.at(-1);
      if (!block) throw new Error("else without if");
      const cond = rest.startsWith("if ") ? rest.slice(3) : undefined;
      const on = block.parentEmit && !block.taken && (cond === undefined || truthy(evaluate(chart, cond)));
      block.emit = on;
      block.taken ||= on;
    } else if (keyword === "end") {
      // An end whose block opened before the rendered part (e.g. the file's outer `if`) closes nothing.
      stack.pop();
    } else throw new Error(`unsupported action: {{ ${action} }}`);
  }
  return out.join("\n");
}

/** The action of a line that holds only `{{- keyword ... }}`, or undefined for a text line. */
function controlAction(line: string): string | undefined {
  const m = /^\s*\{\{-?\s*(.*?)\s*-?\}\}\s*$/.exec(line);
  if (!m) return undefined;
  return /^(if|else|end|range|with|define)\b|^\/\*/.test(m[1]) ? m[1] : undefined;
}

function splitFirst(action: string): [string, string] {
  const i = action.search(/\s/);
  return i < 0 ? [action, ""] : [action.slice(0, i), action.slice(i + 1).trim()];
}

export function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v as object).length > 0;
  return true;
}

/** Evaluates a pipeline: `expr | fn args...`. */
function evaluate(chart: Chart, pipeline: string): Value {
  const stages = splitTop(pipeline, "|");
  let value = evalCall(chart, tokenize(stages[0]));
  for (const stage of stages.slice(1)) {
    const [fn, ...args] = tokenize(stage);
    if (fn === "nindent") value = "\n" + indent(String(value), Number(args[0]));
    else if (fn === "indent") value = indent(String(value), Number(args[0]));
    else throw new Error(`unsupported pipeline function: ${fn}`);
  }
  return value;
}

function evalCall(chart: Chart, tokens: string[]): Value {
  const [head, ...args] = tokens;
  const arg = (i: number) => evalTerm(chart, args[i]);
  switch (head) {
    case "not":
      return !truthy(arg(0));
    case "and":
      return args.reduce<Value>((acc, _t, i) => (truthy(acc) ? arg(i) : acc), true);
    case "or":
      return args.reduce<Value>((acc, _t, i) => (truthy(acc) ? acc : arg(i)), false);
    case "eq":
      return arg(0) === arg(1);
    case "ne":
      return arg(0) !== arg(1);
    case "index":
      return (arg(0) as Record<string, Value> | undefined)?.[String(arg(1))];
    case "default":
      return truthy(arg(1)) ? arg(1) : arg(0);
    case "toYaml":
      return YAML.stringify(arg(0)).trimEnd();
    case "include":
    case "template": {
      const name = String(arg(0));
      if (!(name in chart.includes)) throw new Error(`no value given for ${head} "${name}"`);
      return chart.includes[name];
    }
    default:
      if (args.length) throw new Error(`unsupported function: ${head}`);
      return evalTerm(chart, head);
  }
}

function evalTerm(chart: Chart, token: string): Value {
  if (token.startsWith("(")) return evaluate(chart, token.slice(1, -1));
  if (token.startsWith('"')) return JSON.parse(token);
  if (/^-?[0-9]+$/.test(token)) return Number(token);
  if (token === "true" || token === "false") return token === "true";
  if (token.startsWith(".Values.")) return token.slice(8).split(".").reduce<Value>((v, k) => (v as Record<string, Value> | undefined)?.[k], chart.values);
  throw new Error(`unsupported term: ${token}`);
}

/** Space-separated tokens, keeping "strings" and (sub expressions) whole. */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    if (s[i] === " ") {
      i++;
      continue;
    }
    let j = i;
    if (s[i] === '"') j = s.indexOf('"', i + 1) + 1;
    else if (s[i] === "(") {
      let depth = 0;
      for (; j < s.length; j++) if ((depth += s[j] === "(" ? 1 : s[j] === ")" ? -1 : 0) === 0) break;
      j++;
    } else while (j < s.length && s[j] !== " ") j++;
    tokens.push(s.slice(i, j));
    i = j;
  }
  return tokens;
}

function splitTop(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') quoted = !quoted;
    else if (!quoted && text[i] === "(") depth++;
    else if (!quoted && text[i] === ")") depth--;
    else if (!quoted && depth === 0 && text[i] === sep) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

function indent(text: string, n: number): string {
  return text
    .split("\n")
    .map((l) => " ".repeat(n) + l)
    .join("\n");
}

function merge(base: Value, over: Value): Value {
  if (over === null || typeof over !== "object" || Array.isArray(over) || base === null || typeof base !== "object") return over;
  const out: Record<string, Value> = { ...(base as Record<string, Value>) };
  for (const [k, v] of Object.entries(over as Record<string, Value>)) out[k] = merge(out[k], v);
  return out;
}

/** The lines of `text` from the `{{- if ... }}` line just before the first line matching `inside`, to its end. */
export function ifBlockAround(text: string, inside: RegExp): string {
  const lines = text.split("\n");
  const at = lines.findIndex((l) => inside.test(l));
  if (at < 0) throw new Error(`no line matches ${inside}`);
  let start = at;
  while (start >= 0 && !/^\s*\{\{-?\s*if\b/.test(lines[start])) start--;
  if (start < 0) throw new Error(`no if before ${inside}`);
  let depth = 0;
  for (let i = start; i < lines.length; i++) {
    const action = controlAction(lines[i]);
    if (action && /^(if|range|with)\b/.test(action)) depth++;
    if (action && /^end\b/.test(action) && --depth === 0) return lines.slice(start, i + 1).join("\n");
  }
  throw new Error(`the if before ${inside} has no end`);
}
