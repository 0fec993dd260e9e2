import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["services/**/*.test.ts", "operator/**/*.test.ts"],
    // The browser tests have their own config (services/web/vitest.config.ts, `npm run test:web`).
    // The real-node tests too (operator/e2e-cluster/support/vitest.config.ts, `make e2e-cluster`).
    exclude: ["services/web/e2e/**", "operator/e2e-cluster/**", "**/node_modules/**"],
    globalSetup: ["services/testing/build-once.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
