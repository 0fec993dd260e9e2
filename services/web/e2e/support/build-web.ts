import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** A build of the current source of the app, made for this run. */
    webRoot: string;
    /** The Chromium executable Playwright drives. */
    chromium: string;
  }
}

/**
 * Builds the app into a folder of its own (a `make build` running meanwhile cannot empty it
 * under the tests) and finds the browser before any test starts.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  project.provide("chromium", findChromium());
  const webRoot = await mkdtemp(join(tmpdir(), "parley-web-"));
  await build({
    configFile: fileURLToPath(new URL("../../vite.config.ts", import.meta.url)),
    build: { outDir: webRoot },
    logLevel: "error",
  });
  project.provide("webRoot", webRoot);
  return () => rm(webRoot, { recursive: true, force: true });
}

function findChromium(): string {
  const configured = process.env.PARLEY_CHROMIUM;
  if (configured !== undefined && configured !== "") {
    if (!existsSync(configured)) throw new Error(`PARLEY_CHROMIUM=${configured} does not exist`);
    return configured;
  }
  try {
    return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("the browser tests need Chromium: run hack/chromium.sh (make test does), or set PARLEY_CHROMIUM to a Chromium-based browser");
  }
}
