import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { newRunId, removeRunState } from "./serve-run.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The id every name this run gives the shared servers carries (serve-run.ts). */
    serveRun: string;
    /** Where each serve-shape platform keeps its processes' logs, a folder per platform. */
    serveLogDir: string;
  }
}

/**
 * For the suites in the production shape (services/e2e/support/vitest.serve.config.ts):
 * names the run, and at its end removes everything the run made on the shared servers.
 * The processes' logs are kept for a post-mortem only when a test failed.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const run = newRunId();
  const logDir = await mkdtemp(join(tmpdir(), `parley-e2e-serve-${run}-`));
  project.provide("serveRun", run);
  project.provide("serveLogDir", logDir);
  return async () => {
    await removeRunState(run);
    if (project.vitest.state.getCountOfFailedTests() > 0) process.stderr.write(`serve-shape e2e: process logs in ${logDir}\n`);
    else await rm(logDir, { recursive: true, force: true });
  };
}
