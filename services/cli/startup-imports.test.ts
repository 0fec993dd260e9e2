import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The modules a file loads before any of its code runs: its static imports, followed
 * through the repository's own files (type-only imports load nothing; dynamic import()
 * loads later, when the code asks). Returns the packages reached and the files walked.
 */
function staticGraph(entry: string): { packages: Set<string>; files: Set<string> } {
  const packages = new Set<string>();
  const files = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(file, "utf8");
    for (const match of source.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^"';]*?\sfrom\s+)?"([^"]+)"/gm)) {
      const specifier = match[1] ?? "";
      if (specifier.startsWith(".")) pending.push(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
      else if (!specifier.startsWith("node:")) packages.add(specifier);
    }
  }
  return { packages, files };
}

const cli = (name: string): string => fileURLToPath(new URL(`./${name}`, import.meta.url));

describe("parley's start-up", () => {
  it("loads only commander and the command specs before a command is chosen, so --version and --help are quick", () => {
    // parley.ts itself loads nothing before it turns the compile cache on, then the program.
    expect(staticGraph(cli("parley.ts"))).toEqual({ packages: new Set(), files: new Set([cli("parley.ts")]) });
    const { packages, files } = staticGraph(cli("program.ts"));
    expect([...packages]).toEqual(["commander"]);
    // Neither the settings table (zod) nor an implementation: those come by import() once needed.
    for (const file of files) expect(file, file).not.toMatch(/(runtime\/config|-run)\.ts$/);
  });

  it("sees static imports across lines and skips type-only ones (the check above can fail)", () => {
    const { packages, files } = staticGraph(cli("settings-options.ts"));
    expect(packages).toContain("zod");
    expect([...files].some((file) => file.endsWith("runtime/config.ts"))).toBe(true);
    expect([...files].some((file) => file.endsWith("command-spec.ts"))).toBe(false);
  });
});
