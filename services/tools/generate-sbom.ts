import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { repositoryRoot } from "./generate-config-docs.js";
import { productionSbom } from "./sbom.js";

/** Where `make sbom` writes the SBOM, relative to the repository root. */
const SBOM_FILE = "dist/sbom.cdx.json";

/** Writes the CycloneDX SBOM of the image's production modules (`make sbom`). */
async function main(): Promise<void> {
  const root = repositoryRoot();
  const bom = await productionSbom(root);
  const file = join(root, SBOM_FILE);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(bom, null, 2)}\n`);
  process.stdout.write(`wrote ${SBOM_FILE}: ${String(bom.components.length)} production components\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
