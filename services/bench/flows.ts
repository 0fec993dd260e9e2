/**
 * The 1:1 message flows of the benchmarks (run.ts embedded, real-backends.ts on the real
 * back ends) and their measurement: senders keep a window of unacked sends in flight
 * (one at a time is a window of 1), recipients' clients count what arrives, and the
 * figures are acks and deliveries per second and send → ack, send → delivery latency.
 * What else is measured around a run (server CPU, event-loop delay, consumer backlog) is
 * the caller's.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ParleyClient } from "../sdk/index.js";
import type { InboxEvent } from "../protocol/frames.js";
import { sendDirect, userIdOf } from "./bench-client.js";
import { percentiles, perSecond, round2, type Percentiles } from "./stats.js";

export interface Flow {
  from: ParleyClient;
  to: ParleyClient;
  /** clientMessageId prefix; the message's index follows it. */
  prefix: string;
}

/** When a wait for deliveries gives up, and where it says so. */
export interface StallLimit {
  /** Deliveries that make no progress for this long are reported as incomplete. */
  stallMs: number;
  progress: (text: string) => void;
}

/** What a set of flows sending at once achieved, all flows together. */
export interface FlowFigures {
  acked: number;
  errors: number;
  firstError: string | null;
  delivered: number;
  /** Acked messages that never reached the recipient within the stall limit. */
  missing: number;
  /** From the first send to the last ack. */
  ackPhaseMs: number;
  /** From the first send to the last delivery. */
  durationMs: number;
  acksPerSecond: number;
  deliveriesPerSecond: number;
  /** Send call to ack, at the sender. */
  ackLatencyMs: Percentiles | null;
  /** Send call to the recipient's message event. */
  endToEndLatencyMs: Percentiles | null;
}

interface FlowState {
  sentAt: Float64Array;
  ackMs: Float64Array;
  endToEndMs: Float64Array;
  acked: number;
  errors: number;
  firstError: string | null;
  delivered: number;
  lastAckAt: number;
  lastDeliveryAt: number;
}

function newFlowState(n: number): FlowState {
  return {
    sentAt: new Float64Array(n).fill(NaN),
    ackMs: new Float64Array(n).fill(NaN),
    endToEndMs: new Float64Array(n).fill(NaN),
    acked: 0,
    errors: 0,
    firstError: null,
    delivered: 0,
    lastAckAt: 0,
    lastDeliveryAt: 0,
  };
}

/** Runs `send(i)` for i in [0, n), keeping `window` of them in flight while `open()`. */
export async function runWindowed(n: number, window: number, open: () => boolean, send: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n && open()) await send(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
}

/**
 * Runs `send(i)` for i in [0, n) at `ratePerSecond`, open loop (a send does not wait for
 * the one before it), while `open()`; resolves once every send started has settled.
 */
export async function runPaced(n: number, ratePerSecond: number, open: () => boolean, send: (i: number) => Promise<void>): Promise<void> {
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  let next = 0;
  while (next < n && open()) {
    const due = Math.min(n, Math.floor(((performance.now() - started) / 1000) * ratePerSecond) + 1);
    for (; next < due; next++) inFlight.push(send(next));
    // The pacer's tick: the next send is due at a known time, not on an event.
    if (next < n) await sleep(Math.max(1, (next / ratePerSecond) * 1000 - (performance.now() - started)));
  }
  await Promise.all(inFlight);
}

/**
 * Waits until `done()`, giving up when `progressOf()` has not moved for `stallMs` or
 * `deadlineAt` (a performance.now() time) passes; returns whether it got there.
 */
export async function waitForProgress(done: () => boolean, progressOf: () => number, stallMs: number, deadlineAt = Infinity, pollMs = 10): Promise<boolean> {
  let last = progressOf();
  let lastChange = performance.now();
  while (!done()) {
    if (performance.now() >= deadlineAt) return false;
    await sleep(pollMs);
    const now = progressOf();
    if (now !== last) {
      last = now;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > stallMs) {
      return false;
    }
  }
  return true;
}

/** Waits until `delivered()` reaches `expected`; says so when deliveries stall. */
export async function waitForDeliveries(delivered: () => number, expected: number, what: string, limit: StallLimit): Promise<void> {
  if (!(await waitForProgress(() => delivered() >= expected, delivered, limit.stallMs))) {
    limit.progress(`${what} stalled at ${delivered()} of ${expected}; giving up after ${limit.stallMs} ms`);
  }
}

/** Counts `flow`'s messages arriving at the recipient; returns the detach function. */
function watchDeliveries(flow: Flow, state: FlowState, n: number): () => void {
  const senderId = userIdOf(flow.from);
  const listener = (event: InboxEvent): void => {
    if (event.type !== "message" || event.message.senderId !== senderId) return;
    const id = event.message.clientMessageId;
    if (!id.startsWith(flow.prefix)) return;
    const now = performance.now();
    const i = Number(id.slice(flow.prefix.length));
    if (!Number.isInteger(i) || i < 0 || i >= n || !Number.isNaN(state.endToEndMs[i] ?? 0)) return;
    state.endToEndMs[i] = now - (state.sentAt[i] ?? NaN);
    state.delivered += 1;
    state.lastDeliveryAt = now;
  };
  return flow.to.on("event", listener);
}

/** How a flow sends: keeping `window` unacked sends in flight, or at a fixed rate. */
export type Pace = { window: number } | { ratePerSecond: number };

/** Sends `n` messages at `pace`. */
function pump(flow: Flow, state: FlowState, n: number, pace: Pace, text: string): Promise<void> {
  const to = userIdOf(flow.to);
  const run = "window" in pace ? runWindowed.bind(null, n, pace.window) : runPaced.bind(null, n, pace.ratePerSecond);
  return run(
    () => flow.from.state === "open",
    async (i) => {
      const sentAt = performance.now();
      state.sentAt[i] = sentAt;
      try {
        await sendDirect(flow.from, to, text, flow.prefix + String(i));
        const now = performance.now();
        state.ackMs[i] = now - sentAt;
        state.acked += 1;
        state.lastAckAt = now;
      } catch (error) {
        state.errors += 1;
        state.firstError ??= error instanceof Error ? error.message : String(error);
      }
    },
  );
}

/**
 * Every flow sends `n` messages at once, each at `pace`; then waits until every acked message was delivered, or until deliveries
 * stop progressing.
 */
export async function driveFlows(flows: readonly Flow[], n: number, pace: Pace, text: string, what: string, limit: StallLimit): Promise<FlowFigures> {
  const runs = flows.map((flow) => ({ flow, state: newFlowState(n) }));
  const states = runs.map((run) => run.state);
  const sum = (pick: (s: FlowState) => number): number => states.reduce((total, s) => total + pick(s), 0);
  const detach = runs.map(({ flow, state }) => watchDeliveries(flow, state, n));
  const start = performance.now();
  try {
    await Promise.all(runs.map(({ flow, state }) => pump(flow, state, n, pace, text)));
    await waitForDeliveries(() => sum((s) => s.delivered), sum((s) => s.acked), `${what}: deliveries`, limit);
  } finally {
    for (const off of detach) off();
  }

  const concat = (pick: (s: FlowState) => Float64Array): Float64Array => {
    const all = new Float64Array(n * states.length);
    states.forEach((s, k) => {
      all.set(pick(s), k * n);
    });
    return all;
  };
  const acked = sum((s) => s.acked);
  const delivered = sum((s) => s.delivered);
  const ackPhaseMs = acked > 0 ? Math.max(...states.map((s) => s.lastAckAt)) - start : 0;
  const durationMs = delivered > 0 ? Math.max(...states.map((s) => s.lastDeliveryAt)) - start : 0;
  return {
    acked,
    errors: sum((s) => s.errors),
    firstError: states.find((s) => s.firstError !== null)?.firstError ?? null,
    delivered,
    missing: acked - delivered,
    ackPhaseMs: round2(ackPhaseMs),
    durationMs: round2(durationMs),
    acksPerSecond: perSecond(acked, ackPhaseMs),
    deliveriesPerSecond: perSecond(delivered, durationMs),
    ackLatencyMs: percentiles(concat((s) => s.ackMs)),
    endToEndLatencyMs: percentiles(concat((s) => s.endToEndMs)),
  };
}

export function describeLatency(label: string, p: Percentiles | null): string {
  return p === null ? `  ${label}: no samples` : `  ${label}: p50 ${p.p50} ms, p95 ${p.p95} ms, p99 ${p.p99} ms, max ${p.max} ms`;
}

/** The acks line of a report. */
export function describeAcks(r: Pick<FlowFigures, "acksPerSecond" | "acked" | "ackPhaseMs" | "errors" | "firstError">): string {
  return `  acks:        ${r.acksPerSecond} messages/s (${r.acked} acked in ${Math.round(r.ackPhaseMs)} ms${r.errors > 0 ? `, ${r.errors} errors: ${r.firstError ?? ""}` : ""})`;
}

/** The report lines of a run's flow figures: acks, deliveries, both latencies. */
export function describeFlows(r: FlowFigures): string[] {
  return [
    describeAcks(r),
    `  deliveries:  ${r.deliveriesPerSecond} messages/s (${r.delivered} delivered in ${Math.round(r.durationMs)} ms${r.missing > 0 ? `, ${r.missing} MISSING` : ""})`,
    describeLatency("send → ack       ", r.ackLatencyMs),
    describeLatency("send → delivered ", r.endToEndLatencyMs),
  ];
}
