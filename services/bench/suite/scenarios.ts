/**
 * The suite's scenarios, each run against one target (Parley or the bare `ws` baseline)
 * with the same driver code: idle connections, 1:1 at peak and at a fixed rate, 100 pairs
 * at once, and fan-out to a room of members. Each returns its figures; what they are
 * compared with, and how, is suite.ts's.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { deliveredNumbers, type DriverSocket, type Target } from "./targets.js";

/** What a scenario needs from the run around it. */
export interface ScenarioContext {
  progress: (text: string) => void;
  /** Throws once the suite's time limit has passed. */
  checkTime: () => void;
  text: string;
}

const CONNECT_BATCH = 200;
/** A run with no progress for this long is cut short and reported with what arrived. */
const STALL_MS = 20_000;

async function closeAll(sockets: readonly DriverSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.socket.readyState === s.socket.CLOSED) {
            resolve();
            return;
          }
          s.socket.once("close", () => {
            resolve();
          });
          s.socket.terminate();
        }),
    ),
  );
}

async function connectMany(target: Target, users: readonly string[], context: ScenarioContext, room?: string): Promise<{ sockets: DriverSocket[]; failure: string | null }> {
  const sockets: DriverSocket[] = [];
  for (let first = 0; first < users.length; first += CONNECT_BATCH) {
    context.checkTime();
    const batch = await Promise.allSettled(users.slice(first, first + CONNECT_BATCH).map((user) => target.connect(user, room)));
    for (const outcome of batch) if (outcome.status === "fulfilled") sockets.push(outcome.value);
    const failed = batch.find((outcome) => outcome.status === "rejected");
    if (failed) return { sockets, failure: failed.reason instanceof Error ? failed.reason.message : String(failed.reason) };
    if ((first / CONNECT_BATCH) % 10 === 9) context.progress(`${target.name}: ${String(sockets.length)} of ${String(users.length)} connected`);
  }
  return { sockets, failure: null };
}

// ---- idle connections -----------------------------------------------------------

export interface IdleFigures {
  requested: number;
  opened: number;
  /** Why it stopped short of `requested`, if it did (EMFILE: the process file limit). */
  stoppedBy: string | null;
  kibPerConnection: number | null;
  connectCpuUsPerConnection: number | null;
  connectsPerSecond: number;
}

/**
 * Memory per connection is the marginal cost: the growth of the resident set while the
 * second half of the connections opens, each reading taken after two seconds' settling and
 * a full garbage collection (where the server can be asked for one). The first burst of
 * connects also sizes the server's heap (a garbage-collected runtime grows its young
 * generation once, by tens of MB, and keeps it), a one-off cost that a reading from an
 * empty server would charge to every connection. Connect CPU is over all of them, and
 * taken before the collections.
 */
export async function idleConnections(target: Target, count: number, context: ScenarioContext): Promise<IdleFigures> {
  const users = Array.from({ length: count }, (_, i) => `idle-${String(i)}`);
  const half = Math.floor(count / 2);
  await sleep(500);
  const cpuBefore = target.cpuMs();
  const started = performance.now();
  const first = await connectMany(target, users.slice(0, half), context);
  let connectMs = performance.now() - started;
  let cpuUsed = target.cpuMs() - cpuBefore;
  await sleep(2_000);
  await target.collectGarbage();
  const rssAtHalf = target.rssKiB();
  const sockets = [...first.sockets];
  let failure = first.failure;
  let secondHalf = 0;
  if (failure === null) {
    const cpuAtHalf = target.cpuMs();
    const resumed = performance.now();
    const second = await connectMany(target, users.slice(half), context);
    connectMs += performance.now() - resumed;
    cpuUsed += target.cpuMs() - cpuAtHalf;
    sockets.push(...second.sockets);
    secondHalf = second.sockets.length;
    failure = second.failure;
  }
  await sleep(2_000);
  await target.collectGarbage();
  const rssAfter = target.rssKiB();
  await closeAll(sockets);
  const opened = sockets.length;
  return {
    requested: count,
    opened,
    stoppedBy: failure,
    kibPerConnection: rssAtHalf === null || rssAfter === null || secondHalf === 0 ? null : round((rssAfter - rssAtHalf) / secondHalf),
    connectCpuUsPerConnection: opened === 0 ? null : round((cpuUsed * 1000) / opened),
    connectsPerSecond: Math.round((opened / connectMs) * 1000),
  };
}

// ---- 1:1 -----------------------------------------------------------------------

export interface FlowRun {
  messages: number;
  acked: number;
  delivered: number;
  /** Acked messages per second, first send to last delivery. */
  perSecond: number;
  cpuUsPerMessage: number | null;
  latencyMs: { p50: number; p99: number; p999: number } | null;
}

interface Pair {
  from: DriverSocket;
  to: DriverSocket;
  toUser: string;
}

async function openPairs(target: Target, count: number, context: ScenarioContext, tag: string): Promise<Pair[]> {
  const users = Array.from({ length: count * 2 }, (_, i) => `${tag}-${String(i)}`);
  const { sockets, failure } = await connectMany(target, users, context);
  if (failure !== null) {
    await closeAll(sockets);
    throw new Error(`${target.name}: could not connect the pairs: ${failure}`);
  }
  return Array.from({ length: count }, (_, i) => ({ from: sockets[2 * i] as DriverSocket, to: sockets[2 * i + 1] as DriverSocket, toUser: users[2 * i + 1] ?? "" }));
}

/**
 * Sends `perPair` messages over every pair, either as fast as acks allow (`window` unacked
 * per sender) or paced at `ratePerSecond` in all; measures send → delivery per message.
 */
async function drive(target: Target, pairs: readonly Pair[], perPair: number, mode: { window: number } | { ratePerSecond: number }, context: ScenarioContext): Promise<FlowRun> {
  const total = perPair * pairs.length;
  const sentAt = new Float64Array(total).fill(NaN);
  const latency = new Float64Array(total).fill(NaN);
  let acked = 0;
  let delivered = 0;
  let lastProgress = performance.now();
  let lastDelivery = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const next = new Uint32Array(pairs.length);
  const sendNext = (p: number): void => {
    const pair = pairs[p];
    const k = next[p] ?? perPair;
    if (!pair || k >= perPair) return;
    next[p] = k + 1;
    const n = p * perPair + k;
    sentAt[n] = performance.now();
    pair.from.send(target.directFrame(pair.toUser, n, context.text));
  };
  pairs.forEach((pair, p) => {
    pair.from.onText((text) => {
      if (target.ackOf(text) === null) return;
      acked += 1;
      lastProgress = performance.now();
      if ("window" in mode) sendNext(p);
    });
    pair.to.onText((text) => {
      const now = performance.now();
      for (const n of deliveredNumbers(text)) {
        if (n >= total || !Number.isNaN(latency[n] ?? 0)) continue;
        latency[n] = now - (sentAt[n] ?? now);
        delivered += 1;
        lastDelivery = now;
        lastProgress = now;
      }
      if (delivered === total) finish();
    });
  });
  const cpuBefore = target.cpuMs();
  const started = performance.now();
  let pacer: NodeJS.Timeout | undefined;
  if ("window" in mode) {
    pairs.forEach((_, p) => {
      for (let i = 0; i < mode.window; i++) sendNext(p);
    });
  } else {
    let sent = 0;
    pacer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * mode.ratePerSecond));
      for (; sent < due; sent++) sendNext(sent % pairs.length);
    }, 1);
  }
  const watchdog = setInterval(() => {
    if (performance.now() - lastProgress > STALL_MS) finish();
  }, 500);
  await done;
  clearInterval(pacer);
  clearInterval(watchdog);
  const cpuUsed = target.cpuMs() - cpuBefore;
  const elapsed = (lastDelivery || performance.now()) - started;
  const taken = latency.filter((v) => !Number.isNaN(v)).sort();
  const rank = (p: number): number => round(taken[Math.max(0, Math.ceil(p * taken.length) - 1)] ?? NaN);
  context.checkTime();
  return {
    messages: total,
    acked,
    delivered,
    perSecond: Math.round((delivered / elapsed) * 1000),
    cpuUsPerMessage: delivered === 0 ? null : round((cpuUsed * 1000) / delivered),
    latencyMs: taken.length === 0 ? null : { p50: rank(0.5), p99: rank(0.99), p999: rank(0.999) },
  };
}

export interface PeakFigures {
  peak: FlowRun;
}

/** One pair, one way, `window` unacked sends in flight: the most this target acks. */
export async function oneToOnePeak(target: Target, messages: number, window: number, context: ScenarioContext, tag: string): Promise<FlowRun> {
  const pairs = await openPairs(target, 1, context, tag);
  try {
    await drive(target, pairs, Math.min(500, messages), { window }, context);
    const fresh = await openPairs(target, 1, context, `${tag}-m`);
    try {
      return await drive(target, fresh, messages, { window }, context);
    } finally {
      await closeAll(fresh.flatMap((p) => [p.from, p.to]));
    }
  } finally {
    await closeAll(pairs.flatMap((p) => [p.from, p.to]));
  }
}

/**
 * One pair, one way, paced at `ratePerSecond` for `messages` sends: latency below
 * saturation. After two seconds of warm-up at the same rate on another pair, as the peak run has one: the
 * server is fresh, and without it the p99 would be the first second's compilation.
 */
export async function oneToOneAtRate(target: Target, messages: number, ratePerSecond: number, context: ScenarioContext, tag: string): Promise<FlowRun> {
  const pairs = await openPairs(target, 1, context, tag);
  try {
    await drive(target, pairs, Math.min(2_000, Math.max(1, Math.round(2 * ratePerSecond))), { ratePerSecond }, context);
    const fresh = await openPairs(target, 1, context, `${tag}-m`);
    try {
      return await drive(target, fresh, messages, { ratePerSecond }, context);
    } finally {
      await closeAll(fresh.flatMap((p) => [p.from, p.to]));
    }
  } finally {
    await closeAll(pairs.flatMap((p) => [p.from, p.to]));
  }
}

/** `count` pairs sending at once, each with its own window. */
export async function manyPairs(target: Target, count: number, perPair: number, window: number, context: ScenarioContext, tag: string): Promise<FlowRun> {
  const pairs = await openPairs(target, count, context, tag);
  try {
    return await drive(target, pairs, perPair, { window }, context);
  } finally {
    await closeAll(pairs.flatMap((p) => [p.from, p.to]));
  }
}

// ---- fan-out -------------------------------------------------------------------

export interface FanoutFigures {
  members: number;
  messages: number;
  delivered: number;
  deliveriesPerSecond: number;
  cpuUsPerDelivery: number | null;
  /** Send → the last member has it, one message at a time (median of the single sends). */
  lastMemberMs: number | null;
}

export async function fanOut(target: Target, members: number, messages: number, singles: number, context: ScenarioContext, tag: string): Promise<FanoutFigures> {
  const room = `room-${tag}`;
  const users = Array.from({ length: members }, (_, i) => `${tag}-${String(i)}`);
  const { sockets, failure } = await connectMany(target, users, context, room);
  try {
    if (failure !== null) throw new Error(`${target.name}: could not connect ${String(members)} members: ${failure}`);
    const owner = sockets[0] as DriverSocket;
    const roomId = await target.makeRoom(owner, users, room);
    const counts = new Map<number, number>();
    const reachedAll = new Map<number, () => void>();
    let delivered = 0;
    let lastDelivery = 0;
    let lastProgress = performance.now();
    for (const socket of sockets) {
      socket.onText((text) => {
        // Parley's ack to the sender carries the message too: the sender's delivery is its push.
        if (target.ackOf(text) !== null) return;
        for (const n of deliveredNumbers(text)) {
          const count = (counts.get(n) ?? 0) + 1;
          counts.set(n, count);
          delivered += 1;
          lastDelivery = performance.now();
          lastProgress = lastDelivery;
          if (count === members) reachedAll.get(n)?.();
        }
      });
    }
    const sendAndWait = async (numbers: readonly number[]): Promise<void> => {
      const waits = numbers.map((n) => new Promise<void>((resolve) => reachedAll.set(n, resolve)));
      const stalled = new Promise<void>((resolve) => {
        const watchdog = setInterval(() => {
          if (performance.now() - lastProgress > STALL_MS) {
            clearInterval(watchdog);
            resolve();
          }
        }, 500);
        void Promise.all(waits).then(() => {
          clearInterval(watchdog);
          resolve();
        });
      });
      lastProgress = performance.now();
      for (const n of numbers) owner.send(target.roomFrame(roomId, n, context.text));
      await stalled;
    };
    // The first message of a new group also finds its topic: not measured.
    await sendAndWait([0]);
    const lastMember: number[] = [];
    for (let i = 1; i <= singles; i++) {
      context.checkTime();
      const started = performance.now();
      await sendAndWait([i]);
      if (counts.get(i) === members) lastMember.push(performance.now() - started);
    }
    const burst = Array.from({ length: messages }, (_, i) => 1 + singles + i);
    const deliveredBefore = delivered;
    const cpuBefore = target.cpuMs();
    const started = performance.now();
    await sendAndWait(burst);
    const burstDelivered = delivered - deliveredBefore;
    const cpuUsed = target.cpuMs() - cpuBefore;
    lastMember.sort((a, b) => a - b);
    return {
      members,
      messages,
      delivered: burstDelivered,
      deliveriesPerSecond: Math.round((burstDelivered / Math.max(1, lastDelivery - started)) * 1000),
      cpuUsPerDelivery: burstDelivered === 0 ? null : round((cpuUsed * 1000) / burstDelivered),
      lastMemberMs: lastMember.length === 0 ? null : round(lastMember[Math.floor(lastMember.length / 2)] ?? NaN),
    };
  } finally {
    await closeAll(sockets);
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
