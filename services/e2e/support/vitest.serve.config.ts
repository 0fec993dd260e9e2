import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * The end-to-end suites that hold the protocol's promises, run against the production
 * shape (`parley serve` processes on the real back ends, services/e2e/support/serve-platform.ts)
 * instead of `parley dev`: once with 1 replica of each service and once with 2
 * (PARLEY_E2E_SHAPE=serve, PARLEY_E2E_REPLICAS). The other e2e suites read in-process
 * state of parley dev (its gateway's events, its data directory) or start processes of
 * their own, and run in the main config only. The processes run dist/: `make e2e-serve`
 * builds first (by hand: `npm run build`, then `npx vitest run --config <this file>`).
 */
const SERVE_SUITES = ["services/e2e/messaging.test.ts", "services/e2e/groups.test.ts"];

export default defineConfig({
  root: fileURLToPath(new URL("../../..", import.meta.url)),
  test: {
    include: SERVE_SUITES,
    globalSetup: ["services/e2e/support/serve-global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // One file at a time: two at once were no faster on 2 cores (366 s against 346 s), and
    // the groups suite times its batches, which a second platform's start would delay.
    fileParallelism: false,
    projects: ["1", "2"].map((replicas) => ({
      extends: true,
      test: { name: `serve, ${replicas} ${replicas === "1" ? "replica" : "replicas"}`, env: { PARLEY_E2E_SHAPE: "serve", PARLEY_E2E_REPLICAS: replicas } },
    })),
  },
});
