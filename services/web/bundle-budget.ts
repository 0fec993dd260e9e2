import { gzipSync } from "node:zlib";
import type { Plugin } from "vite";

/** The web messenger's download budget (issue 12): everything the page loads, gzipped. */
export const BUNDLE_BUDGET_BYTES = 150 * 1024;

export interface BundleFile {
  fileName: string;
  content: string | Uint8Array;
}

/** Gzipped size of each file and their total, as a browser downloads them. */
export function measureBundle(files: readonly BundleFile[]): { total: number; files: { fileName: string; gzipped: number }[] } {
  const sized = files.map((file) => ({ fileName: file.fileName, gzipped: gzipSync(file.content, { level: 9 }).byteLength }));
  return { total: sized.reduce((sum, file) => sum + file.gzipped, 0), files: sized };
}

export function formatKiB(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

/**
 * Prints the gzipped size of the build beside the budget and fails the build past it, so
 * the budget cannot be missed by a change nobody measured.
 */
export function bundleBudget(budgetBytes = BUNDLE_BUDGET_BYTES, print: (line: string) => void = console.log): Plugin {
  return {
    name: "parley-bundle-budget",
    apply: "build",
    generateBundle(_options, bundle) {
      const files = Object.values(bundle).map((item) => ({ fileName: item.fileName, content: item.type === "chunk" ? item.code : item.source }));
      const { total } = measureBundle(files.filter((file) => !file.fileName.endsWith(".map")));
      const line = `web bundle: ${formatKiB(total)} gzipped (budget ${formatKiB(budgetBytes)})`;
      if (total > budgetBytes) this.error(`${line}: over budget`);
      print(line);
    },
  };
}
