/**
 * Keeps the server and the driver off each other's core (`taskset`), so that the driver's
 * own work does not show up as the server's slowness. On a machine with one core, or
 * without taskset, nothing is pinned and the report says so.
 */
import { execFile } from "node:child_process";
import { cpus } from "node:os";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface CorePlan {
  server: string;
  driver: string;
  pinned: boolean;
}

export function planCores(): CorePlan {
  // The machine's cores, as taskset numbers them (availableParallelism may count a cgroup
  // quota instead, which says nothing about which cores exist).
  const cores = cpus().length;
  if (cores < 2) return { server: "0", driver: "0", pinned: false };
  return { server: "0", driver: `1-${String(cores - 1)}`, pinned: true };
}

/** Pins every thread of `pid` (the thread pool included) to `cores`; false where taskset failed. */
export async function pinToCores(pid: number, cores: string): Promise<boolean> {
  try {
    await run("taskset", ["-a", "-p", "-c", cores, String(pid)]);
    return true;
  } catch {
    return false;
  }
}
