import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The files that decide which production modules `npm ci --omit dev` installs. */
const INSTALL_INPUTS = ["package.json", "package-lock.json", ".npmrc"] as const;

/** A CycloneDX document as `npm sbom` writes it; only the fields the callers read are typed. */
export interface CycloneDxBom {
  readonly bomFormat: "CycloneDX";
  readonly specVersion: string;
  readonly metadata: { readonly component: { readonly name: string; readonly version: string } };
  readonly components: readonly { readonly name: string; readonly version: string; readonly purl: string }[];
}

/** Where staged production trees are kept between runs: one per set of install inputs. */
function stagingRoot(): string {
  return join(process.env.PARLEY_CACHE ?? join(homedir(), ".cache", "parley"), "sbom");
}

function installKey(root: string): string {
  const hash = createHash("sha256");
  for (const file of INSTALL_INPUTS) hash.update(file).update("\0").update(readFileSync(join(root, file)));
  return hash.digest("hex").slice(0, 16);
}

/**
 * A copy of the repository's install inputs with exactly the production modules installed,
 * as the image's `npm ci` + `npm prune --omit=dev` leaves them. Why a staged copy: `npm sbom
 * --omit dev` in the checkout leaves out modules that are production dependencies *and*
 * reachable from a development one (commander, yaml, debug, ...), and `npm sbom` in a pruned
 * tree fails on the missing development dependencies package.json still names, so the staged
 * package.json names none. Kept per hash of the inputs, so only a lockfile change installs again.
 */
async function stageProductionTree(root: string): Promise<string> {
  const dir = join(stagingRoot(), installKey(root), "parley");
  if (existsSync(join(dir, "node_modules", ".package-lock.json"))) return dir;
  mkdirSync(stagingRoot(), { recursive: true });
  const scratch = mkdtempSync(join(stagingRoot(), "staging-"));
  try {
    // The folder is named parley because npm sbom names the root component after it.
    const staged = join(scratch, "parley");
    mkdirSync(staged);
    for (const file of INSTALL_INPUTS) copyFileSync(join(root, file), join(staged, file));
    await run("npm", ["ci", "--omit", "dev", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"], {
      cwd: staged,
    });
    const manifest = JSON.parse(readFileSync(join(staged, "package.json"), "utf8")) as Record<string, unknown>;
    delete manifest.devDependencies;
    writeFileSync(join(staged, "package.json"), JSON.stringify(manifest, null, 2));
    mkdirSync(join(stagingRoot(), installKey(root)), { recursive: true });
    try {
      renameSync(staged, dir);
    } catch (error) {
      // Another run staged the same inputs first: theirs is as good as ours.
      if (!existsSync(dir)) throw error;
    }
    return dir;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The CycloneDX SBOM of the production modules the image ships, for the checkout at `root`. */
export async function productionSbom(root: string): Promise<CycloneDxBom> {
  const staged = await stageProductionTree(root);
  const { stdout } = await run("npm", ["sbom", "--sbom-format", "cyclonedx", "--sbom-type", "application"], {
    cwd: staged,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as CycloneDxBom;
}
