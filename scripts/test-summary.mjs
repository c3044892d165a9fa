// Adds up vitest's JSON reports of the tiers test-all.sh ran and prints one final line,
// `N passed, N failed` (`, N skipped` when any); exits 1 when a test failed or (unless
// IHP_ALLOW_SKIPPED=1) was skipped. A test file that failed outside its tests (import error,
// failing hook), or a tier whose run exited non-zero with no failure counted (a worker error, a
// toolchain build that failed, no report at all), counts as one failure and is named above the line.
//   node scripts/test-summary.mjs RESULTS_DIR TIER...
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const [dir, ...tiers] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const notes = [];
for (const tier of tiers) {
  const exit = Number(readFileSync(join(dir, `${tier}.exit`), "utf8").trim());
  const file = join(dir, `${tier}.json`);
  const report = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined;
  let tierFailed = 0;
  if (report) {
    passed += report.numPassedTests;
    skipped += report.numPendingTests + report.numTodoTests;
    tierFailed += report.numFailedTests;
    for (const t of report.testResults)
      if (t.status === "failed" && !t.assertionResults.some((a) => a.status === "failed")) {
        tierFailed++;
        notes.push(`${tier}: ${t.name} failed outside its tests: ${t.message.split("\n")[0]}`);
      }
  }
  if (!report) {
    tierFailed = 1;
    notes.push(`${tier}: exited ${exit} without a vitest report (see above)`);
  } else if (exit !== 0 && tierFailed === 0) {
    tierFailed = 1;
    notes.push(`${tier}: exited ${exit} with no failed test (an error outside the tests, see above)`);
  }
  failed += tierFailed;
}
const allowSkipped = process.env.IHP_ALLOW_SKIPPED === "1";
if (skipped && !allowSkipped) notes.push(`${skipped} skipped without IHP_ALLOW_SKIPPED=1: every test must run`);
for (const n of notes) console.log(n);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed || (skipped && !allowSkipped) ? 1 : 0);
