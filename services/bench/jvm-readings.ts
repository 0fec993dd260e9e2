import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { rssKiBOf } from "./process-stats.js";

/**
 * What a running JVM (a broker) holds, from the JDK's own tools and /proc: heap in use,
 * heap still live after a full collection, resident memory, memory maps and open files
 * (the last two because the kernel bounds them: vm.max_map_count and `ulimit -n`).
 */
export interface JvmReading {
  heapUsedMiB: number;
  /** After `jcmd GC.run`: what the broker cannot free. */
  liveHeapMiB: number;
  heapCapacityMiB: number;
  rssMiB: number;
  memoryMaps: number;
  openFiles: number;
}

/** jcmd and jstat beside the java binary the process runs, so they match its JDK. */
function jdkTool(pid: number, tool: string): string {
  return join(dirname(readlinkSync(`/proc/${pid}/exe`)), tool);
}

/** Heap in use and its capacity in MiB, from `jstat -gc` (columns by header name). */
function heapMiB(pid: number): { used: number; capacity: number } {
  const [header = "", values = ""] = execFileSync(jdkTool(pid, "jstat"), ["-gc", String(pid)], { encoding: "utf8", timeout: 60_000 }).trim().split("\n");
  const names = header.trim().split(/\s+/);
  const numbers = values.trim().split(/\s+/).map(Number);
  const column = (name: string): number => numbers[names.indexOf(name)] ?? 0;
  const used = column("S0U") + column("S1U") + column("EU") + column("OU");
  const capacity = column("S0C") + column("S1C") + column("EC") + column("OC");
  return { used: used / 1024, capacity: capacity / 1024 };
}

export function readJvm(pid: number): JvmReading {
  const before = heapMiB(pid);
  execFileSync(jdkTool(pid, "jcmd"), [String(pid), "GC.run"], { stdio: "ignore", timeout: 120_000 });
  const live = heapMiB(pid);
  return {
    heapUsedMiB: before.used,
    liveHeapMiB: live.used,
    heapCapacityMiB: live.capacity,
    rssMiB: (rssKiBOf(pid) ?? 0) / 1024,
    memoryMaps: readFileSync(`/proc/${pid}/maps`, "utf8").split("\n").length - 1,
    openFiles: readdirSync(`/proc/${pid}/fd`).length,
  };
}

/** The kernel's bounds on what readJvm counts, for the process `pid`. */
export function jvmLimits(pid: number): { maxMapCount: number; openFilesLimit: number } {
  const limits = readFileSync(`/proc/${pid}/limits`, "utf8");
  const openFiles = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
  return {
    maxMapCount: Number(readFileSync("/proc/sys/vm/max_map_count", "utf8").trim()),
    openFilesLimit: Number(openFiles ?? Number.NaN),
  };
}
