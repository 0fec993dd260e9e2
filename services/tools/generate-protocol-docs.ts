import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { repositoryRoot } from "./generate-config-docs.js";
import { protocolFiles } from "./protocol-schemas.js";

/** Writes docs/protocol/*.schema.json and docs/asyncapi.yaml; run after changing a frame. */
function main(): void {
  for (const [path, content] of Object.entries(protocolFiles())) {
    const target = join(repositoryRoot(), path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
    process.stdout.write(`wrote ${path}\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
