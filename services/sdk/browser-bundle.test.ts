import { isBuiltin } from "node:module";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { rolldown, type Plugin } from "rolldown";
import { describe, expect, it } from "vitest";

/** Bundles an entry for the browser, as an app's bundler would, recording every Node.js module it reaches. */
async function bundleForBrowser(entry: string): Promise<{ nodeImports: string[]; modules: string[]; code: string }> {
  const nodeImports: string[] = [];
  const recordNodeImports: Plugin = {
    name: "record-node-imports",
    resolveId(source, importer) {
      if (isBuiltin(source)) {
        nodeImports.push(`${source} (from ${importer ?? "the entry"})`);
        return { id: source, external: true };
      }
      return null;
    },
  };
  const bundle = await rolldown({ input: fileURLToPath(new URL(entry, import.meta.url)), platform: "browser", plugins: [recordNodeImports], logLevel: "silent" });
  const { output } = await bundle.generate({ format: "esm", minify: true });
  await bundle.close();
  const chunk = output[0];
  return { nodeImports, modules: Object.keys(chunk.modules), code: chunk.code };
}

describe("SDK in browsers", () => {
  it("bundles the browser entry without any Node.js module, and without zod", async () => {
    const { nodeImports, modules, code } = await bundleForBrowser("./index.ts");
    expect(nodeImports).toEqual([]);
    expect(modules.filter((id) => id.includes("node_modules"))).toEqual([]);
    console.log(`@parley/sdk browser bundle: ${code.length} bytes minified, ${gzipSync(code).length} bytes gzipped`);
  });

  it("the check catches a Node.js import (the node-only entry)", async () => {
    const { nodeImports } = await bundleForBrowser("./node.ts");
    expect(nodeImports.some((id) => id.startsWith("node:fs/promises"))).toBe(true);
  });
});
