import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { withReference } from "../../components/config-reference";

const ROOT = join(__dirname, "..", "..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");

describe("README", () => {
  it("holds the configuration table generated from the schema (npx tsx scripts/config-reference.ts --write)", () => {
    expect(readme).toBe(withReference(readme));
    expect(readme).toContain("| `nodePorts.http` | integer | `30111` |");
  });
  it("gives the two set-up commands, and .ci/run runs exactly the test one", () => {
    expect(readme).toContain("```sh\nnpm ci && npm run render -- dev\n```");
    expect(readme).toContain("```sh\nnpm ci && npm test\n```");
    const ci = readFileSync(join(ROOT, ".ci", "run"), "utf8").trim().split("\n");
    expect(ci[ci.length - 1]).toBe("npm ci && npm test");
  });
});
