// The readable copy of one LB's haproxy.cfg: the pushed file with every secret-derived token (the stats
// password hash) replaced by a marked placeholder. It is a stack output so that `pulumi preview --diff`
// (and the PR comment) shows a config change as lines (`+ server node-4 ...`); the push itself is
// untouched (its stdin stays secret). `npm run render` writes the same text.
import type { LoadBalancerSettings, Settings } from "../settings";
import { withSecretPlaceholder } from "../secret-placeholder";
import { renderHaproxyConfig } from "./config";

/** haproxy.cfg for `lb` as pushed, minus secrets. Pure: depends on the settings only, never on a secret. */
export function readableHaproxyConfig(settings: Settings, lb: LoadBalancerSettings): { text: string; placeholders: number } {
  if (!settings.haproxy.stats.enabled) return { text: renderHaproxyConfig(settings, lb), placeholders: 0 };
  return withSecretPlaceholder("statsPassword", (statsPassword) => renderHaproxyConfig(settings, lb, { statsPassword }));
}

/** The stack output `haproxyConfigs`: LB name -> readable haproxy.cfg, in the settings' LB order. */
export function readableHaproxyConfigs(settings: Settings): Record<string, string> {
  return Object.fromEntries(settings.loadBalancers.map((lb) => [lb.name, readableHaproxyConfig(settings, lb).text]));
}
