import { BackendSource, backendSource } from "./discovery/backend-source";
import { NodeObject, selectNodes } from "./discovery/select-nodes";
import { CONFIG_NAMESPACE, NodeDiscoverySettings, SECRET_KEYS, SecretPresence, Settings, checkSettings, parseSettings } from "./settings";

/**
 * Turns Pulumi's flat config map (`project:key` -> string, objects as JSON) into settings. Secret keys
 * are only checked for presence and for being stored encrypted; their values are read elsewhere as
 * secret Outputs. With `nodeDiscovery`, pass the discovered nodes (see resolveStackSettings).
 */
export function settingsFromStackConfig(all: Record<string, string>, isSecret: (fullKey: string) => boolean, discovered?: Settings["nodes"]): Settings {
  const { raw, presence } = rawStackConfig(all, isSecret);
  return parseSettings(raw, presence, discovered);
}

function rawStackConfig(all: Record<string, string>, isSecret: (fullKey: string) => boolean): { raw: Record<string, unknown>; presence: SecretPresence } {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(all)) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    raw[key] = (SECRET_KEYS as readonly string[]).includes(key) ? "<secret>" : decode(value);
  }
  const presence: SecretPresence = {};
  for (const key of SECRET_KEYS) presence[key] = key in raw && isSecret(prefix + key);
  return { raw, presence };
}

/** Where discovered nodes come from: the live cluster, or a saved Nodes list (render --nodes-yaml). */
export type NodeLister = (discovery: NodeDiscoverySettings) => Promise<NodeObject[]>;

/**
 * Settings with the nodes known. Every problem the stack config alone shows is reported before the
 * cluster is asked; with `nodeDiscovery`, the listed Nodes are selected (selectNodes) and the result
 * is validated by the same schema as a hand-written `nodes` list.
 */
export async function resolveStackSettings(
  all: Record<string, string>,
  isSecret: (fullKey: string) => boolean,
  listNodes: NodeLister,
  now: Date,
): Promise<{ settings: Settings; source?: BackendSource }> {
  const { raw, presence } = rawStackConfig(all, isSecret);
  const parsed = checkSettings(raw, presence);
  if (!parsed.nodeDiscovery) return { settings: parsed as Settings };
  const selection = selectNodes(await listNodes(parsed.nodeDiscovery), parsed.nodeDiscovery, now);
  return { settings: parseSettings(raw, presence, selection.nodes), source: backendSource(parsed.nodeDiscovery, selection) };
}

/** Pulumi passes structured config as JSON text and scalars as plain text. */
function decode(value: string): unknown {
  if (!/^\s*[[{]/.test(value)) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
