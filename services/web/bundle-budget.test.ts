import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { build } from "vite";
import { bundleBudget, measureBundle } from "./bundle-budget.js";

describe("the web bundle budget", () => {
  it("measures files as a browser downloads them: gzipped", () => {
    const repetitive = "a".repeat(100_000);
    const { total, files } = measureBundle([{ fileName: "a.js", content: repetitive }, { fileName: "b.bin", content: randomBytes(10_000) }]);
    expect(files[0]?.gzipped).toBeLessThan(1_000);
    expect(files[1]?.gzipped).toBeGreaterThan(10_000);
    expect(total).toBe((files[0]?.gzipped ?? 0) + (files[1]?.gzipped ?? 0));
  });

  it("fails a build that is over budget, naming the size and the budget", async () => {
    const lines: string[] = [];
    const attempt = build({
      configFile: false,
      logLevel: "silent",
      root: import.meta.dirname,
      build: { write: false, rolldownOptions: { input: new URL("./bundle-budget.ts", import.meta.url).pathname }, ssr: true },
      plugins: [bundleBudget(10, (line) => lines.push(line))],
    });
    await expect(attempt).rejects.toThrow(/web bundle: .* KB gzipped \(budget 0\.0 KB\): over budget/);
    expect(lines).toEqual([]);
  });

  it("prints the size of a build within budget", async () => {
    const lines: string[] = [];
    await build({
      configFile: false,
      logLevel: "silent",
      root: import.meta.dirname,
      build: { write: false, rolldownOptions: { input: new URL("./bundle-budget.ts", import.meta.url).pathname }, ssr: true },
      plugins: [bundleBudget(1024 * 1024, (line) => lines.push(line))],
    });
    expect(lines).toEqual([expect.stringMatching(/^web bundle: \d+\.\d KB gzipped \(budget 1024\.0 KB\)$/)]);
  });
});
