// Prints the configuration table, or with --write puts it into README.md between its markers.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configReferenceMarkdown, withReference } from "../components/config-reference";

if (process.argv.includes("--write")) {
  const readme = join(__dirname, "..", "README.md");
  writeFileSync(readme, withReference(readFileSync(readme, "utf8")));
} else process.stdout.write(configReferenceMarkdown());
