import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * The browser tests (`npm run test:web`, part of `make test`): Playwright drives Debian's
 * chromium (hack/chromium.sh) against `parley dev` serving a fresh build of the app.
 * One file at a time: each runs a browser with several pages, which is what a shared
 * 2-core machine can take.
 */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["services/web/e2e/**/*.test.ts"],
    globalSetup: ["services/web/e2e/support/build-web.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    fileParallelism: false,
  },
});
