import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * The end-to-end tests on the one-node cluster (hack/cluster), run by `make e2e-cluster`
 * after it has started the cluster and built the images; the main vitest config leaves
 * this folder out. One file at a time: they share the node's two cores.
 */
export default defineConfig({
  root: fileURLToPath(new URL("../../..", import.meta.url)),
  test: {
    include: ["operator/e2e-cluster/**/*.test.ts"],
    testTimeout: 360_000,
    hookTimeout: 360_000,
    pool: "forks",
    fileParallelism: false,
  },
});
