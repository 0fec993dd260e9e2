import { writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { configurationDoc } from "./configuration-doc.js";

/** The generated page, relative to the repository root. */
export const CONFIGURATION_DOC = "docs/configuration.md";

/** The repository root: two levels above services/tools (or three above dist/services/tools). */
export function repositoryRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(join("dist", "services")) ? resolve(here, "../../..") : resolve(here, "../..");
}

/** Writes docs/configuration.md; run after changing a setting or a command's settings. */
function main(): void {
  writeFileSync(join(repositoryRoot(), CONFIGURATION_DOC), configurationDoc());
  process.stdout.write(`wrote ${CONFIGURATION_DOC}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
