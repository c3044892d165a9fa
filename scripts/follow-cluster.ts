// The scheduled check that an environment still matches its cluster (.github/workflows/follow-cluster.yml).
//
//   npx tsx scripts/follow-cluster.ts --stack dev [--apply] [--summary FILE]
//
// Runs `pulumi preview --diff --expect-no-changes`. Nothing to change: exit 0. Otherwise it sorts the
// plan (`pulumi preview --json`) and prints it: which nodes came or went and each LB's haproxy.cfg
// lines (stack output haproxyConfigs, secrets as placeholders). Without --apply it then exits 1, so
// a person runs the deploy. With --apply (only in a job behind the environment's protection) it runs
// `pulumi up` when every change is a HAProxy config push, and refuses (exit 1) when anything else would
// change. Exit 2: the preview itself failed (bad config, a discovery guard, an unreachable cluster) or
// wrong usage. --summary appends the same report as Markdown (e.g. $GITHUB_STEP_SUMMARY).
import { spawnSync } from "node:child_process";
import { appendFileSync } from "node:fs";
import { nodeChanges, outputLineDiffs, sortPlan, type LineDiff, type PlanStep } from "./preview-plan";

export interface Report {
  readonly code: 0 | 1 | 2;
  /** Markdown, also printed. */
  readonly text: string;
  /** Run `pulumi up` (only with --apply and a plan of HAProxy config pushes alone). */
  readonly up: boolean;
}

const fence = (s: string) => "```\n" + s.trimEnd() + "\n```";

/** What to say and do, from the two previews' results. Pure. */
export function decide(stack: string, apply: boolean, diff: { status: number; out: string }, json?: { status: number; stdout: string; out: string }): Report {
  if (diff.status === 0) return { code: 0, up: false, text: `### ${stack}: no changes\n\nThe stack matches the cluster (\`pulumi preview --expect-no-changes\` passed).\n` };
  if (!json || json.status !== 0)
    return { code: 2, up: false, text: `### ${stack}: the preview failed\n\nNothing was changed. Fix the cause below (nothing is pushed until the preview passes).\n\n${fence(json?.out ?? diff.out)}\n` };
  const plan = sortPlan((JSON.parse(json.stdout) as { steps?: PlanStep[] }).steps ?? []);
  let configs: Record<string, LineDiff> = {};
  try {
    configs = outputLineDiffs(diff.out, "haproxyConfigs");
  } catch {
    // No haproxy.cfg changed: the plan's other changes say what did.
  }
  const nodes = nodeChanges(configs);
  const lines = [`### ${stack}: the stack no longer matches`, ""];
  lines.push(`Nodes added: ${nodes.added.join(", ") || "none"}; nodes removed: ${nodes.removed.join(", ") || "none"}.`);
  lines.push(`HAProxy configs to push: ${plan.lbPushes.join(", ") || "none"}.`);
  for (const [lb, d] of Object.entries(configs)) lines.push("", `${lb} haproxy.cfg:`, fence([...d.removed.map((l) => `- ${l}`), ...d.added.map((l) => `+ ${l}`)].join("\n")));
  if (plan.others.length) lines.push("", "Other changes (a person must review and deploy these):", ...plan.others.map((o) => `- ${o}`));
  lines.push("", "<details><summary>pulumi preview --diff</summary>", "", fence(diff.out), "", "</details>", "");
  const onlyPushes = plan.others.length === 0 && plan.lbPushes.length > 0;
  if (apply && onlyPushes) return { code: 0, up: true, text: lines.join("\n") + "Applying: only HAProxy configs change, so `pulumi up` runs now.\n" };
  const why = apply
    ? "Not applied automatically: the plan changes more than HAProxy configs. Review it and run the deploy."
    : "Run the deploy for this environment (re-run the last `deploy` workflow run, or `pulumi up --stack " + stack + "`), or opt in to automatic pushes (docs/environments.md).";
  return { code: 1, up: false, text: lines.join("\n") + why + "\n" };
}

function pulumi(args: string[], stack: string): { status: number; stdout: string; out: string } {
  const r = spawnSync("pulumi", [...args, "--stack", stack, "--non-interactive", "--color", "never"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, out: r.stdout + r.stderr };
}

function main(argv: string[]): number {
  const usage = "usage: npx tsx scripts/follow-cluster.ts --stack NAME [--apply] [--summary FILE]";
  let stack: string | undefined;
  let summary: string | undefined;
  let apply = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--stack" && argv[i + 1]) stack = argv[++i];
    else if (argv[i] === "--summary" && argv[i + 1]) summary = argv[++i];
    else if (argv[i] === "--apply") apply = true;
    else return (process.stderr.write(`unexpected argument ${argv[i]}\n${usage}\n`), 2);
  }
  if (!stack || !/^[A-Za-z0-9_.-]+$/.test(stack)) return (process.stderr.write(`${usage}\n`), 2);
  const diff = pulumi(["preview", "--diff", "--expect-no-changes"], stack);
  const json = diff.status === 0 ? undefined : pulumi(["preview", "--json"], stack);
  const report = decide(stack, apply, diff, json);
  process.stdout.write(report.text);
  if (summary) appendFileSync(summary, report.text);
  if (!report.up) return report.code;
  const up = pulumi(["up", "--yes", "--diff"], stack);
  process.stdout.write(up.out);
  if (summary) appendFileSync(summary, `\n${up.status === 0 ? "Applied." : "`pulumi up` failed:"}\n\n${fence(up.out)}\n`);
  return up.status === 0 ? 0 : 2;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
