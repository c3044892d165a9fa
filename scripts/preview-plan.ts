// Reads a `pulumi preview` the way a reviewer reads the PR comment, and sorts its plan for the scheduled
// check (scripts/follow-cluster.ts). Pure: text and JSON in, values out.
//
// `--diff` text (CLI 3.259, --color never):
// A changed multi-line string is printed as a line diff: context lines indented two columns deeper
// than the `+ `/`- ` markers of added/removed lines, e.g. under `--outputs:--`:
//
//   ~ haproxyConfigs: {
//       ~ lb-1:
//             ...
//                 server node-3 192.0.2.13:30111 send-proxy check
//           +     server node-4 192.0.2.14:30111 send-proxy check
//     }

export interface LineDiff {
  readonly added: string[];
  readonly removed: string[];
}

/**
 * The line diff of each key of the map-valued stack output `output` (e.g. haproxyConfigs), from the
 * `--outputs:--` section. Throws when the output is not shown as changed, so a test never passes on
 * an empty result.
 */
export function outputLineDiffs(previewText: string, output: string): Record<string, LineDiff> {
  const lines = previewText.split("\n");
  // The stack's own outputs sit two columns in. A StackReference (another program's, or this program's
  // shrink guard before it read outputs with an invoke) shows other outputs nested deeper: never read those.
  const start = lines.findIndex((l) => new RegExp(`^  ~ ${output} *: \\{$`).test(l));
  if (start < 0) throw new Error(`the preview shows no change of the stack output ${output}:\n${previewText}`);
  const outerIndent = lines[start].indexOf("~");
  const result: Record<string, LineDiff> = {};
  let current: { diff: LineDiff; marker: RegExp } | undefined;
  for (const line of lines.slice(start + 1)) {
    if (line === `${" ".repeat(outerIndent + 2)}}`) return result;
    const key = /^( *)~ ([^ :]+) *: *$/.exec(line);
    if (key) {
      const diff: LineDiff = { added: [], removed: [] };
      result[key[2]] = diff;
      // The CLI leaves empty lines out of these diffs (measured); a bare marker would still read as "".
      current = { diff, marker: new RegExp(`^ {${key[1].length + 4}}([+-])(?: (.*))?$`) };
      continue;
    }
    const change = current?.marker.exec(line);
    if (change) (change[1] === "+" ? current!.diff.added : current!.diff.removed).push(change[2] ?? "");
  }
  throw new Error(`the stack output ${output}'s diff has no end in:\n${previewText}`);
}

/** One step of `pulumi preview --json`. */
export interface PlanStep {
  readonly op: string;
  readonly urn: string;
}

/** The URN type tail of the HAProxy push of one LB host (components/load-balancer.ts): the only change a node change makes. */
const LB_PUSH_TYPE = "ingress-haproxy:haproxy:HaproxyLoadBalancer$command:remote:Command";

export interface PlanKinds {
  /** Names of the HAProxy pushes the plan updates (one per LB whose haproxy.cfg changes). */
  readonly lbPushes: string[];
  /** `op type name` of every other change: these need a person, never an automatic up. */
  readonly others: string[];
}

/** Splits a preview's changes into HAProxy config pushes and everything else. */
export function sortPlan(steps: readonly PlanStep[]): PlanKinds {
  const lbPushes: string[] = [];
  const others: string[] = [];
  for (const s of steps) {
    // A read (a StackReference) changes nothing.
    if (s.op === "same" || s.op === "read") continue;
    const [, , type, name] = s.urn.split("::");
    if (s.op === "update" && type.endsWith(`$${LB_PUSH_TYPE}`)) lbPushes.push(name);
    else others.push(`${s.op} ${type.split("$").pop()} ${name}`);
  }
  return { lbPushes: lbPushes.sort(), others: others.sort() };
}

/** `server NAME ...` lines of a haproxy.cfg diff -> the node names added and removed (sorted, unique). */
export function nodeChanges(diffs: Record<string, LineDiff>): { added: string[]; removed: string[] } {
  const names = (lines: string[]) => lines.map((l) => /^ +server (\S+) /.exec(l)?.[1]).filter((n): n is string => n !== undefined);
  const all = Object.values(diffs);
  const uniq = (xs: string[]) => [...new Set(xs)].sort();
  return { added: uniq(all.flatMap((d) => names(d.added))), removed: uniq(all.flatMap((d) => names(d.removed))) };
}
