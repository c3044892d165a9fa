// Reads `pulumi preview --diff` text (CLI 3.259, --color never) the way a reviewer reads the PR comment.
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
  const start = lines.findIndex((l) => new RegExp(`^ *~ ${output} *: \\{$`).test(l));
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
      current = { diff, marker: new RegExp(`^ {${key[1].length + 4}}([+-]) (.*)$`) };
      continue;
    }
    const change = current?.marker.exec(line);
    if (change) (change[1] === "+" ? current!.diff.added : current!.diff.removed).push(change[2]);
  }
  throw new Error(`the stack output ${output}'s diff has no end in:\n${previewText}`);
}
