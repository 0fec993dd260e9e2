import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { bundleBudget } from "./bundle-budget.js";

/**
 * The web messenger (docs/adr/0010-web-messenger-stack.md): built into dist/web, which
 * `parley dev` serves at `/`. `npm run build` runs this after tsc.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../../dist/web", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    // The budget plugin prints the one figure that matters; Vite's own table repeats it per file.
    reportCompressedSize: false,
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  plugins: [bundleBudget()],
});
