/**
 * Steady, bounded traffic through a fault: each flow (a sender and a direct recipient or a
 * group) creates a message every 1/rate seconds, with at most `maxInFlight` unacked, and
 * keeps sending each one, with the same clientMessageId, until it is acked or the traffic
 * is drained: what a client that retries does, so a message stored twice is the server's
 * fault. Every message and every ack is recorded for the checker and the recovery time.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { SentMessage } from "./checker.js";
import type { ChaosUser } from "./chaos-user.js";

/** After a failed send, before sending it again. */
const RETRY_PAUSE_MS = 200;

export interface Flow {
  id: string;
  from: ChaosUser;
  to: { kind: "direct"; userId: string } | { kind: "group"; groupId: string; members: readonly string[] };
}

export interface TrafficOptions {
  /** Messages per second per flow. */
  rate: number;
  maxInFlight: number;
  /** Prefix of every clientMessageId of the run, so only its own messages are counted. */
  prefix: string;
}

interface FlowState {
  flow: Flow;
  messages: SentMessage[];
  inFlight: number;
  /** Resolves a creator waiting for a free slot. */
  slotFreed: (() => void) | null;
  /** Send attempts that failed (time limit, connection lost, error frame). */
  failures: number;
  firstFailure: string | null;
}

/**
 * Why a send attempt failed: the error frame's code (docs/protocol.md section 8), or the
 * SDK's own `timeout` (no reply within the time limit) and `closed` (connection lost).
 */
export function failureCode(error: unknown): string {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "unknown";
}

export class Traffic {
  private readonly states: FlowState[];
  private creating = true;
  private draining = true;
  private readonly pending = new Set<Promise<void>>();
  private creators: Promise<void>[] = [];
  private rate: number;
  /** Attempts that failed, by failureCode. */
  private readonly codes = new Map<string, number>();
  /** Called after every ack (untilAckedAfter). */
  private readonly ackListeners = new Set<() => void>();

  constructor(
    flows: readonly Flow[],
    private readonly options: TrafficOptions,
  ) {
    this.states = flows.map((flow) => ({ flow, messages: [], inFlight: 0, slotFreed: null, failures: 0, firstFailure: null }));
    this.rate = options.rate;
  }

  start(): void {
    this.creators = this.states.map((state) => this.create(state));
  }

  /** Stops creating messages, then waits (up to `drainMs`) for the unacked ones; what is still unacked then stays so. */
  async stop(drainMs: number): Promise<void> {
    this.creating = false;
    for (const state of this.states) state.slotFreed?.();
    await Promise.all(this.creators);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, drainMs);
    });
    await Promise.race([Promise.all(this.pending), deadline]);
    clearTimeout(timer);
    this.draining = false;
    await Promise.all(this.pending);
  }

  messages(): SentMessage[] {
    return this.states.flatMap((state) => state.messages);
  }

  failures(): { count: number; first: string | null; codes: Record<string, number> } {
    return {
      count: this.states.reduce((sum, state) => sum + state.failures, 0),
      first: this.states.find((state) => state.firstFailure !== null)?.firstFailure ?? null,
      codes: Object.fromEntries(this.codes),
    };
  }

  /** Messages created and not yet acked (nor given up), in all flows together. */
  inFlight(): number {
    return this.states.reduce((sum, state) => sum + state.inFlight, 0);
  }

  /** Resolves once every flow has an ack received after `atMs` (performance.now()); rejects after `timeoutMs`. */
  untilAckedAfter(atMs: number, timeoutMs: number): Promise<void> {
    const done = (): boolean => this.ackTimes().every((times) => (times.at(-1) ?? -Infinity) > atMs);
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ackListeners.delete(listener);
        reject(new Error(`not every flow had an ack within ${String(timeoutMs)} ms`));
      }, timeoutMs);
      const listener = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.ackListeners.delete(listener);
        resolve();
      };
      this.ackListeners.add(listener);
    });
  }

  /** Ack times per flow, in order. */
  ackTimes(): number[][] {
    return this.states.map((state) =>
      state.messages
        .map((message) => message.ack?.atMs)
        .filter((at): at is number => at !== undefined)
        .sort((a, b) => a - b),
    );
  }

  /** A method, not the field: stop() changes it while create() awaits. */
  private stillCreating(): boolean {
    return this.creating;
  }

  /** Changes the offered rate (messages per second per flow) from the next message on. */
  setRate(rate: number): void {
    this.rate = rate;
  }

  private async create(state: FlowState): Promise<void> {
    let dueAt = performance.now();
    for (let i = 0; this.stillCreating(); i++) {
      // The schedule is absolute, so a slow send does not lower the rate.
      const due = dueAt - performance.now();
      if (due > 0) await sleep(due);
      dueAt += 1000 / this.rate;
      while (this.stillCreating() && state.inFlight >= this.options.maxInFlight) {
        await new Promise<void>((resolve) => (state.slotFreed = resolve));
      }
      if (!this.stillCreating()) return;
      const to = state.flow.to;
      const message: SentMessage = {
        createdAtMs: performance.now(),
        clientMessageId: `${this.options.prefix}${state.flow.id}-${i}`,
        kind: to.kind,
        senderId: state.flow.from.userId,
        recipients: to.kind === "direct" ? [to.userId] : to.members.filter((member) => member !== state.flow.from.userId),
      };
      state.messages.push(message);
      state.inFlight += 1;
      const sending = this.sendUntilAcked(state, message).finally(() => {
        state.inFlight -= 1;
        this.pending.delete(sending);
        state.slotFreed?.();
        state.slotFreed = null;
      });
      this.pending.add(sending);
    }
  }

  private async sendUntilAcked(state: FlowState, message: SentMessage): Promise<void> {
    const { from, to } = state.flow;
    while (this.draining) {
      try {
        // Plain requests, not the SDK's outbox: every failure must reach the failure count and the retry below.
        const { message: stored } = await from.withTimeout(`send ${message.clientMessageId}`, (client) =>
          to.kind === "direct"
            ? client.request({ type: "send", to: to.userId, clientMessageId: message.clientMessageId, body: { text: "chaos" } })
            : client.request({ type: "group.send", groupId: to.groupId, clientMessageId: message.clientMessageId, body: { text: "chaos" } }),
        );
        message.ack = { messageId: stored.messageId, conversationId: stored.conversationId, atMs: performance.now() };
        for (const listener of this.ackListeners) listener();
        return;
      } catch (error) {
        state.failures += 1;
        const code = failureCode(error);
        this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
        state.firstFailure ??= `${message.clientMessageId}: ${error instanceof Error ? error.message : String(error)}`;
        // A pause, not an event: the fault gives no signal when it is over.
        await sleep(RETRY_PAUSE_MS);
      }
    }
  }
}

/** The longest time without an ack in any flow, between `fromMs` and `toMs`. */
export function longestAckGapMs(ackTimes: readonly (readonly number[])[], fromMs: number, toMs: number): number {
  let longest = 0;
  for (const times of ackTimes) {
    let previous = fromMs;
    for (const at of times) {
      if (at < fromMs) continue;
      if (at > toMs) break;
      longest = Math.max(longest, at - previous);
      previous = at;
    }
    longest = Math.max(longest, toMs - previous);
  }
  return Math.round(longest);
}

/** From the fault's end to the first ack after it in the flow that took longest; null when a flow had none. */
export function recoveryMs(ackTimes: readonly (readonly number[])[], faultEndMs: number): number | null {
  let slowest = 0;
  for (const times of ackTimes) {
    const first = times.find((at) => at >= faultEndMs);
    if (first === undefined) return null;
    slowest = Math.max(slowest, first - faultEndMs);
  }
  return Math.round(slowest);
}

/**
 * The median time from creating a message to its ack, of the acked messages created between
 * `fromMs` and `toMs` (null when none): the latency a user sees, retries included.
 */
export function medianAckLatencyMs(messages: readonly SentMessage[], fromMs: number, toMs: number): number | null {
  const latencies = messages
    .filter((message) => message.ack !== undefined && message.createdAtMs !== undefined && message.createdAtMs >= fromMs && message.createdAtMs < toMs)
    .map((message) => (message.ack?.atMs ?? 0) - (message.createdAtMs ?? 0))
    .sort((a, b) => a - b);
  if (latencies.length === 0) return null;
  return Math.round(latencies[Math.floor(latencies.length / 2)] ?? 0);
}
