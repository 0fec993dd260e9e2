import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["services/**/*.test.ts", "operator/**/*.test.ts"],
    // The browser tests have their own config (services/web/vitest.config.ts, `npm run test:web`).
    exclude: ["services/web/e2e/**", "**/node_modules/**"],
    globalSetup: ["services/testing/build-once.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
