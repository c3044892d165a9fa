// Prints the configuration table for README.md ("Configuration" section).
import { configReferenceMarkdown } from "../components/config-reference";
process.stdout.write(configReferenceMarkdown());
