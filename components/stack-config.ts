import { CONFIG_NAMESPACE, SECRET_KEYS, SecretPresence, Settings, parseSettings } from "./settings";

/**
 * Turns Pulumi's flat config map (`project:key` -> string, objects as JSON) into settings. Secret keys
 * are only checked for presence and for being stored encrypted; their values are read elsewhere as
 * secret Outputs.
 */
export function settingsFromStackConfig(all: Record<string, string>, isSecret: (fullKey: string) => boolean): Settings {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(all)) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    raw[key] = (SECRET_KEYS as readonly string[]).includes(key) ? "<secret>" : decode(value);
  }
  const presence: SecretPresence = {};
  for (const key of SECRET_KEYS) presence[key] = key in raw && isSecret(prefix + key);
  return parseSettings(raw, presence);
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
