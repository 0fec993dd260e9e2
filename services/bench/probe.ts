/**
 * Preloaded into the benchmark's server child (`node --expose-gc --import probe.js
 * parley.js dev ...`), never into a real deployment. Over the IPC channel the benchmark
 * opened, it answers with the process's heap figures, CPU time and event-loop delay, after
 * a full garbage collection when asked. It changes nothing in the server itself.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";

export const PROBE_MESSAGE = "parley-bench-probe";

export interface ProbeRequest {
  type: typeof PROBE_MESSAGE;
  id: number;
  /** Run a full collection (twice, so finalizers' garbage goes too) before measuring. */
  gc: boolean;
  /** Start a fresh event-loop delay histogram after answering. */
  resetLoopDelay: boolean;
}

export interface ProbeReply {
  type: typeof PROBE_MESSAGE;
  id: number;
  memory: NodeJS.MemoryUsage;
  cpu: NodeJS.CpuUsage;
  /** Event-loop delay since the last reset, in milliseconds. */
  loopDelayMs: { p50: number; p99: number; max: number; mean: number };
  /**
   * The longest time the event loop went without running a 5 ms timer since the last reset,
   * in milliseconds. Unlike loopDelayMs it also catches a block that starts right after the
   * reset (the histogram drops its first sample after a reset).
   */
  longestStallMs: number;
  gcAvailable: boolean;
}

function isProbeRequest(value: unknown): value is ProbeRequest {
  return typeof value === "object" && value !== null && (value as { type?: unknown }).type === PROBE_MESSAGE;
}

const send = process.send?.bind(process);
if (send) {
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  let lastTick = performance.now();
  let longestGap = 0;
  setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - lastTick);
    lastTick = now;
  }, 5).unref();

  process.on("message", (message: unknown) => {
    if (!isProbeRequest(message)) return;
    const collect = globalThis.gc;
    if (message.gc && collect) {
      collect();
      collect();
    }
    const reply: ProbeReply = {
      type: PROBE_MESSAGE,
      id: message.id,
      memory: process.memoryUsage(),
      cpu: process.cpuUsage(),
      loopDelayMs: {
        p50: ms(loopDelay.percentile(50)),
        p99: ms(loopDelay.percentile(99)),
        max: ms(loopDelay.max),
        mean: ms(loopDelay.mean),
      },
      longestStallMs: Math.round(Math.max(longestGap, performance.now() - lastTick) * 100) / 100,
      gcAvailable: collect !== undefined,
    };
    if (message.resetLoopDelay) {
      loopDelay.reset();
      longestGap = 0;
    }
    send(reply);
  });

  // The benchmark went away without stopping us (killed, crashed): shut down as on SIGTERM.
  process.on("disconnect", () => {
    process.kill(process.pid, "SIGTERM");
  });
}
