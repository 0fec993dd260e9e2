/** Where a benchmark ran (Node, CPUs, commit), for its report and JSON line. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";

export interface Environment {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  commit: string | null;
  /** Uncommitted changes in the checkout; null when git could not tell. */
  dirty: boolean | null;
}

export function environment(): Environment {
  const git = (args: string[]): string | null => {
    try {
      return execFileSync("git", ["-C", fileURLToPath(new URL("../../..", import.meta.url)), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return null;
    }
  };
  const status = git(["status", "--porcelain"]);
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    commit: git(["rev-parse", "--short", "HEAD"]),
    dirty: status === null ? null : status.length > 0,
  };
}

/** The report's first words: commit, Node and CPUs. */
export function describeEnvironment(env: Environment): string {
  return `commit ${env.commit ?? "unknown"}${env.dirty === true ? " (uncommitted changes)" : ""}, Node ${env.node}, ${env.cpus} × ${env.cpuModel}`;
}

/** The filesystem type holding `path` (SQLite's fsync cost depends on it), from /proc/mounts. */
export function filesystemOf(path: string): string | null {
  try {
    let best: { mount: string; type: string } | null = null;
    for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
      const [, mount, type] = line.split(" ");
      if (mount === undefined || type === undefined) continue;
      const covers = path === mount || path.startsWith(mount.endsWith("/") ? mount : mount + "/");
      if (covers && (best === null || mount.length > best.mount.length)) best = { mount, type };
    }
    return best ? `${best.type} on ${best.mount} (${path})` : null;
  } catch {
    return null;
  }
}
