import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repositoryRoot } from "./generate-config-docs.js";
import { productionSbom } from "./sbom.js";

interface LockedPackage {
  readonly version?: string;
  readonly dev?: boolean;
  readonly link?: boolean;
}

/** name@version of every installed package in package-lock.json, split by whether only development needs it. */
function lockedPackages(): { production: Set<string>; devOnly: Set<string> } {
  const lock = JSON.parse(readFileSync(join(repositoryRoot(), "package-lock.json"), "utf8")) as {
    packages: Record<string, LockedPackage>;
  };
  const production = new Set<string>();
  const devOnly = new Set<string>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.includes("node_modules/") || entry.link === true || entry.version === undefined) continue;
    const id = `${path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)}@${entry.version}`;
    (entry.dev === true ? devOnly : production).add(id);
  }
  return { production, devOnly };
}

describe("the image's SBOM", () => {
  it("lists every production dependency of package-lock.json and no development-only one", async () => {
    const bom = await productionSbom(repositoryRoot());
    const listed = new Set(bom.components.map((component) => `${component.name}@${component.version}`));
    const { production, devOnly } = lockedPackages();

    expect(bom.bomFormat).toBe("CycloneDX");
    expect(bom.metadata.component.name).toBe("parley");
    // commander and yaml are production dependencies that development tools use too:
    // `npm sbom --omit dev` in the checkout leaves exactly such packages out.
    expect(listed).toContain(`commander@${versionOf("commander")}`);
    expect([...production].filter((id) => !listed.has(id))).toEqual([]);
    expect([...listed].filter((id) => devOnly.has(id) || !production.has(id))).toEqual([]);
  }, 120_000);
});

function versionOf(name: string): string {
  const lock = JSON.parse(readFileSync(join(repositoryRoot(), "package-lock.json"), "utf8")) as {
    packages: Record<string, LockedPackage>;
  };
  return lock.packages[`node_modules/${name}`]?.version ?? "not locked";
}
