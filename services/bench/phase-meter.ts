/**
 * Where the time went during one phase of the production-shape benchmark
 * (real-backends.ts): CPU per process (Parley's and the back ends', from /proc), the
 * machine's total and its busiest other processes, each Parley process's event-loop
 * delay, the consumer groups' backlog and the commands Redis ran.
 */
import { cpus, loadavg } from "node:os";
import type { Redis } from "ioredis";
import type { CliProcess } from "./cli-process.js";
import type { LagFigures, LagSampler } from "./consumer-lag.js";
import type { ProbeReply } from "./probe.js";
import { allProcessesCpuMs, cpuMsOf, machineCpuTicks } from "./process-stats.js";
import { round2 } from "./stats.js";

export interface Watched {
  label: string;
  pid: number;
}

interface CpuSnapshot {
  at: number;
  machine: { busy: number; total: number } | null;
  processes: Map<string, number | null>;
  bench: NodeJS.CpuUsage;
  loops: Map<string, ProbeReply | null>;
  all: Map<number, { name: string; ms: number }>;
  redisCalls: Map<string, number> | null;
}

export interface PhaseFigures {
  wallMs: number;
  /** CPU of each process, in percent of one core (100 = one core busy all the time). */
  cpuPercent: Record<string, number>;
  /** All cores together, in percent of one core: at most cores × 100. */
  machineBusyPercent: number | null;
  /** Busy CPU not accounted for by the processes above (other work on the machine). */
  otherPercent: number | null;
  /** The busiest of those other processes, in percent of one core. */
  otherTop: { pid: number; name: string; percent: number }[];
  /** Event-loop delay of each Parley process during the phase, ms. */
  eventLoopDelayMs: Record<string, ProbeReply["loopDelayMs"]>;
  /** Backlog of the services' consumer groups, sampled during the phase. */
  consumerLag: Record<string, LagFigures>;
  /** Commands the Redis server ran during the phase (all its clients), by command, busiest first. */
  redisCommands: Record<string, number>;
  loadAverage: number[];
}

/** CPU per process (ours and the back ends'), machine totals and event-loop delay, between two snapshots. */
export class PhaseMeter {
  constructor(
    private readonly watched: Watched[],
    private readonly servers: CliProcess[],
    private readonly lag: LagSampler | null,
    private readonly redis: Redis | null,
  ) {}

  /** Calls per command so far, from INFO commandstats. */
  private async redisCalls(): Promise<Map<string, number> | null> {
    if (!this.redis) return null;
    try {
      const info = await this.redis.info("commandstats");
      const calls = new Map<string, number>();
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1] ?? "", Number(match[2]));
      return calls;
    } catch {
      return null;
    }
  }

  async snapshot(): Promise<CpuSnapshot> {
    const loops = new Map<string, ProbeReply | null>();
    await Promise.all(
      this.servers.map(async (server) => {
        loops.set(server.label, await server.probe({ resetLoopDelay: true }).catch(() => null));
      }),
    );
    return {
      at: performance.now(),
      machine: machineCpuTicks(),
      processes: new Map(this.watched.map((w) => [w.label, cpuMsOf(w.pid)])),
      bench: process.cpuUsage(),
      loops,
      all: allProcessesCpuMs(),
      redisCalls: await this.redisCalls(),
    };
  }

  async since(before: CpuSnapshot, consumerLag: Record<string, LagFigures> = {}): Promise<PhaseFigures> {
    const loops = new Map<string, ProbeReply | null>();
    await Promise.all(
      this.servers.map(async (server) => {
        loops.set(server.label, await server.probe().catch(() => null));
      }),
    );
    const at = performance.now();
    const wallMs = at - before.at;
    const machine = machineCpuTicks();
    const cores = cpus().length;
    const cpuPercent: Record<string, number> = {};
    let accounted = 0;
    for (const { label, pid } of this.watched) {
      const start = before.processes.get(label);
      const end = cpuMsOf(pid);
      if (start === null || start === undefined || end === null) continue;
      const percent = wallMs > 0 ? ((end - start) / wallMs) * 100 : 0;
      cpuPercent[label] = Math.round(percent);
      accounted += percent;
    }
    const bench = process.cpuUsage(before.bench);
    const benchPercent = wallMs > 0 ? (bench.user + bench.system) / 10 / wallMs : 0;
    cpuPercent.bench = Math.round(benchPercent);
    accounted += benchPercent;
    let machineBusyPercent: number | null = null;
    if (before.machine && machine && machine.total > before.machine.total) {
      machineBusyPercent = Math.round(((machine.busy - before.machine.busy) / (machine.total - before.machine.total)) * cores * 100);
    }
    const known = new Set([process.pid, ...this.watched.map((w) => w.pid)]);
    const otherTop: PhaseFigures["otherTop"] = [];
    for (const [pid, { name, ms }] of allProcessesCpuMs()) {
      const start = before.all.get(pid);
      if (known.has(pid) || start === undefined || wallMs <= 0) continue;
      const percent = Math.round(((ms - start.ms) / wallMs) * 100);
      if (percent >= 2) otherTop.push({ pid, name, percent });
    }
    otherTop.sort((a, b) => b.percent - a.percent);
    otherTop.splice(5);
    const eventLoopDelayMs: Record<string, ProbeReply["loopDelayMs"]> = {};
    for (const [label, reply] of loops) if (reply) eventLoopDelayMs[label] = reply.loopDelayMs;
    const redisCommands: Record<string, number> = {};
    const redisAfter = await this.redisCalls();
    if (before.redisCalls && redisAfter) {
      const deltas = [...redisAfter].map(([command, calls]) => [command, calls - (before.redisCalls?.get(command) ?? 0)] as const);
      // The INFO calls of this meter itself are left out.
      for (const [command, calls] of deltas.sort((a, b) => b[1] - a[1])) if (calls > 0 && command !== "info") redisCommands[command] = calls;
    }
    return {
      wallMs: Math.round(wallMs),
      cpuPercent,
      machineBusyPercent,
      otherPercent: machineBusyPercent === null ? null : Math.max(0, Math.round(machineBusyPercent - accounted)),
      otherTop,
      eventLoopDelayMs,
      consumerLag,
      redisCommands,
      loadAverage: loadavg().map(round2),
    };
  }

  async measure<T>(work: () => Promise<T>): Promise<{ value: T; figures: PhaseFigures }> {
    const before = await this.snapshot();
    this.lag?.start();
    let value: T;
    try {
      value = await work();
    } catch (error) {
      await this.lag?.stop();
      throw error;
    }
    const consumerLag = (await this.lag?.stop()) ?? {};
    return { value, figures: await this.since(before, consumerLag) };
  }
}


export function describePhase(f: PhaseFigures): string[] {
  const cpu = Object.entries(f.cpuPercent)
    .sort(([, a], [, b]) => b - a)
    .map(([label, percent]) => `${label} ${percent}`)
    .join(", ");
  const loops = Object.entries(f.eventLoopDelayMs)
    .map(([label, d]) => `${label} ${d.p99}/${d.max}`)
    .join(", ");
  const lags = Object.entries(f.consumerLag)
    .filter(([, l]) => l.max > 0)
    .map(([label, l]) => `${label} ${l.max}/${l.mean}`)
    .join(", ");
  const redis = Object.entries(f.redisCommands)
    .slice(0, 4)
    .map(([command, calls]) => `${command} ${calls}`)
    .join(", ");
  const others = f.otherTop.map((o) => `${o.percent} ${o.name.slice(0, 60)}`).join("; ");
  return [
    `  CPU, % of one core: ${cpu}${f.otherPercent === null ? "" : `, other ${f.otherPercent}`}; machine ${String(f.machineBusyPercent)}% of ${cpus().length * 100}%`,
    ...(others === "" ? [] : [`  busiest other processes, % of one core: ${others}`]),
    `  event-loop delay p99/max ms (5 ms sampling included): ${loops}; load average ${f.loadAverage.join(" ")}`,
    ...(lags === "" ? [] : [`  consumer backlog, max/mean events: ${lags}`]),
    ...(redis === "" ? [] : [`  Redis commands (whole server): ${redis}`]),
  ];
}

