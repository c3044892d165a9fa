// What the real controllers wrote (their container logs, kubelet-standin.ts) and what the echo app
// received, read the same way by every scenario of the real-controller tier.
import { readFileSync } from "node:fs";
import type { RunningPod } from "./kubelet-standin";

export interface AccessLine {
  readonly pod: string;
  readonly node: string;
  readonly remoteAddr: string;
  /** The request's own X-Forwarded-For as the client sent it ("-" when none). */
  readonly xff: string;
}

export const logOf = (p: RunningPod): string => readFileSync(p.proc!.log, "utf8");

/** Access-log lines (the controller's default `main` log_format) of `pods` for exactly `path`. */
export function accessLines(pods: readonly RunningPod[], path: string): AccessLine[] {
  const out: AccessLine[] = [];
  for (const p of pods) {
    for (const line of logOf(p).split("\n")) {
      const m = /^(\S+) - \S+ \[[^\]]+\] "GET (\S+) HTTP\/[\d.]+" \d+ \d+ "[^"]*" "[^"]*" "([^"]*)"$/.exec(line);
      if (m && m[2] === path) out.push({ pod: p.key, node: p.node, remoteAddr: m[1], xff: m[3] });
    }
  }
  return out;
}

/** How often each pod reported its ConfigMap applied (the controller's `Updated` event, after nginx reloaded). */
export function configApplied(pods: readonly RunningPod[], configMap: string): Map<string, number> {
  const marker = `ConfigMap ${configMap} updated without error`;
  return new Map(pods.map((p) => [p.key, logOf(p).split(marker).length - 1]));
}

/** Lines of the log written after `offset` (a length of the log read earlier). */
export const logSince = (p: RunningPod, offset: number): string => logOf(p).slice(offset);

/** Lines in which the API server refused the controller something (RBAC). */
export const forbiddenLines = (log: string): string[] => log.split("\n").filter((l) => /forbidden|cannot (get|list|watch|update|create|patch|delete) resource/i.test(l));

/** The values of every line of header `name` the echo app received, in order (a header set twice is two lines). */
export function headerLines(body: { rawHeaders: string[] }, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < body.rawHeaders.length; i += 2) if (body.rawHeaders[i].toLowerCase() === name) out.push(body.rawHeaders[i + 1]);
  return out;
}
