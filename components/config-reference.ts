// Generates the README's configuration table from the schema, so the docs cannot drift from it.
import { z } from "zod";
import { CONFIG_NAMESPACE, SECRET_KEYS, settingsSchema } from "./settings";

interface Row {
  path: string;
  type: string;
  default: string;
  description: string;
}

function unwrap(schema: z.ZodTypeAny): { inner: z.ZodTypeAny; defaultValue?: unknown; optional: boolean; description?: string } {
  let inner = schema;
  let defaultValue: unknown;
  let optional = false;
  let description = schema.description;
  for (;;) {
    description ??= inner.description;
    if (inner instanceof z.ZodDefault) {
      defaultValue = inner._def.defaultValue();
      inner = inner._def.innerType;
    } else if (inner instanceof z.ZodOptional) {
      optional = true;
      inner = inner._def.innerType;
    } else if (inner instanceof z.ZodEffects) {
      inner = inner._def.schema;
    } else return { inner, defaultValue, optional, description };
  }
}

function typeName(schema: z.ZodTypeAny): string {
  if (schema instanceof z.ZodEnum) return (schema.options as string[]).map((o) => `\`${o}\``).join(" \\| ");
  if (schema instanceof z.ZodArray) return `list of ${typeName(unwrap(schema.element).inner)}`;
  if (schema instanceof z.ZodRecord) return "map of string";
  if (schema instanceof z.ZodObject) return "object";
  if (schema instanceof z.ZodNumber) return schema.isInt ? "integer" : "number";
  if (schema instanceof z.ZodBoolean) return "boolean";
  return "string";
}

function rows(schema: z.ZodTypeAny, path: string, out: Row[]): void {
  const { inner, defaultValue, optional, description } = unwrap(schema);
  const nested = inner instanceof z.ZodObject ? inner : inner instanceof z.ZodArray && unwrap(inner.element).inner instanceof z.ZodObject ? unwrap(inner.element).inner : undefined;
  const shownDefault = defaultValue === undefined ? (optional ? "(unset)" : "**required**") : nested && typeof defaultValue === "object" && !Array.isArray(defaultValue) ? "" : `\`${JSON.stringify(defaultValue)}\``;
  if (path) out.push({ path, type: typeName(inner), default: shownDefault, description: description ?? "" });
  if (nested) {
    const prefix = inner instanceof z.ZodArray ? `${path}[]` : path;
    for (const [key, child] of Object.entries((nested as z.ZodObject<z.ZodRawShape>).shape)) rows(child as z.ZodTypeAny, prefix ? `${prefix}.${key}` : key, out);
  }
}

export function configReferenceMarkdown(): string {
  const out: Row[] = [];
  rows(settingsSchema, "", out);
  const lines = [
    `| setting (\`${CONFIG_NAMESPACE}:\`…) | type | default | what it does |`,
    "| --- | --- | --- | --- |",
    ...out.map((r) => `| \`${r.path}\` | ${r.type} | ${r.default} | ${r.description.replace(/\|/g, "\\|")} |`),
    ...SECRET_KEYS.map((k) => `| \`${k}\` | secret | ${k === "sshPrivateKey" ? "**required**" : "(unset)"} | ${SECRET_DOCS[k]} |`),
  ];
  return lines.join("\n") + "\n";
}

const SECRET_DOCS: Record<(typeof SECRET_KEYS)[number], string> = {
  sshPrivateKey: "SSH private key for the load-balancer hosts: `cat KEY \\| pulumi config set --secret sshPrivateKey`.",
  statsPassword: "HAProxy stats password; required when `haproxy.stats.enabled`.",
  vrrpPassword: "keepalived VRRP authentication secret; required with `keepalived` on IPv4 load balancers (IPv6 VRRPv3 has no authentication).",
};

const START = "<!-- config-reference:start -->\n";
const END = "<!-- config-reference:end -->";

/** `markdown` with the generated table between the config-reference markers. */
export function withReference(markdown: string): string {
  const start = markdown.indexOf(START);
  const end = markdown.indexOf(END);
  if (start < 0 || end < start) throw new Error("README.md lacks the config-reference markers");
  return markdown.slice(0, start + START.length) + configReferenceMarkdown() + markdown.slice(end);
}
