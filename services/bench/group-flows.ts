/**
 * The group message flows of the production-shape benchmark (real-backends.ts): a group
 * whose members each have their own connection, set up with group.create and group.add
 * frames, then members sending to it with a window of unacked sends each, while every
 * member's client counts what arrives. Figures: acks and member deliveries per second,
 * latency per delivery, and how long a message takes to reach the last member.
 */
import type { ParleyClient } from "../sdk/index.js";
import type { Message } from "../protocol/frames.js";
import { sendGroupMessage, userIdOf } from "./bench-client.js";
import { describeAcks, describeLatency, runWindowed, waitForDeliveries, type StallLimit } from "./flows.js";
import { percentiles, perSecond, round2, type Percentiles } from "./stats.js";

/** Members named per group.create / group.add frame: each costs the groups service a few Paxos rounds, and the gateway gives up after 10 s. */
export const GROUP_MEMBERS_PER_FRAME = 50;
const CONNECT_BATCH = 50;

/** What setting up and running a group needs from the benchmark around it. */
export interface GroupContext extends StallLimit {
  setPhase: (text: string) => void;
  /** Connects member `index` (0 is the owner) as `userId`. */
  connect: (index: number, userId: string) => Promise<ParleyClient>;
}

export interface GroupSetup {
  members: number;
  connectMs: number;
  /** group.create with the first members, then group.add frames for the rest. */
  createMs: number;
  addFrames: number;
  addMs: number;
  /** The first message of the new group: send until every member had it (its topic is new to the fan-out consumer). */
  firstMessageMs: number | null;
  firstMessageDelivered: number;
}

/** One run of messages to the group. */
export interface GroupFigures {
  members: number;
  /** Members sending at once, each with its own window. */
  senders: number;
  messages: number;
  window: number;
  textBytes: number;
  acked: number;
  errors: number;
  firstError: string | null;
  expectedDeliveries: number;
  delivered: number;
  missing: number;
  duplicates: number;
  deliveredByTier: { realtime: number; batched: number };
  /** From the first send to the last ack. */
  ackPhaseMs: number;
  /** From the first send to the last delivery. */
  durationMs: number;
  acksPerSecond: number;
  deliveriesPerSecond: number;
  /** Send call to ack, at the sender. */
  ackLatencyMs: Percentiles | null;
  /** Send call to one member's group.messages frame, over every delivery. */
  deliveryLatencyMs: Percentiles | null;
  /** Send call to the moment the last member had the message, per message. */
  lastMemberLatencyMs: Percentiles | null;
  /** Ack at the sender to the moment the last member had the message, per message: the fan-out after the store. */
  ackToLastMemberMs: Percentiles | null;
}

/** Counts group messages arriving at the members; per message, delivery times. */
class GroupWatch {
  readonly sentAt: Float64Array;
  readonly ackMs: Float64Array;
  readonly lastMemberMs: Float64Array;
  readonly latencies: number[] = [];
  private readonly counts: Uint32Array;
  private readonly seen: Uint8Array[];
  delivered = 0;
  duplicates = 0;
  readonly byTier = { realtime: 0, batched: 0 };
  lastDeliveryAt = 0;
  private readonly detachers: (() => void)[] = [];

  constructor(
    private readonly groupId: string,
    private readonly prefix: string,
    private readonly n: number,
    members: ParleyClient[],
  ) {
    this.sentAt = new Float64Array(n).fill(NaN);
    this.ackMs = new Float64Array(n).fill(NaN);
    this.lastMemberMs = new Float64Array(n).fill(NaN);
    this.counts = new Uint32Array(n);
    this.seen = members.map(() => new Uint8Array(n));
    members.forEach((client, k) => {
      this.detachers.push(
        client.on("groupMessages", (messages: Message[], tier: "realtime" | "batched") => {
          this.record(k, members.length, messages, tier);
        }),
      );
    });
  }

  detach(): void {
    for (const off of this.detachers) off();
  }

  private record(member: number, members: number, messages: Message[], tier: "realtime" | "batched"): void {
    const now = performance.now();
    const seen = this.seen[member];
    if (!seen) return;
    for (const message of messages) {
      if (message.groupId !== this.groupId || !message.clientMessageId.startsWith(this.prefix)) continue;
      const i = Number(message.clientMessageId.slice(this.prefix.length));
      if (!Number.isInteger(i) || i < 0 || i >= this.n) continue;
      if (seen[i] === 1) {
        this.duplicates += 1;
        continue;
      }
      seen[i] = 1;
      const latency = now - (this.sentAt[i] ?? NaN);
      this.latencies.push(latency);
      this.delivered += 1;
      this.byTier[tier] += 1;
      this.lastDeliveryAt = now;
      this.counts[i] = (this.counts[i] ?? 0) + 1;
      if (this.counts[i] === members) this.lastMemberMs[i] = latency;
    }
  }
}

export interface GroupFixture {
  groupId: string;
  owner: ParleyClient;
  members: ParleyClient[];
  setup: GroupSetup;
}

/** Connects `size` members (the owner first), creates the group and sends its first message. */
export async function setUpGroup(size: number, text: string, context: GroupContext): Promise<GroupFixture> {
  const { setPhase, progress } = context;
  setPhase("group: connecting members");
  progress(`group: connecting ${size} members`);
  const connectStarted = performance.now();
  const owner = await context.connect(0, "g-owner");
  const members: ParleyClient[] = [owner];
  for (let first = 1; first < size; first += CONNECT_BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(CONNECT_BATCH, size - first) }, (_, k) => {
        const i = first + k;
        return context.connect(i, `g-member-${i}`);
      }),
    );
    members.push(...batch);
  }
  const connectMs = performance.now() - connectStarted;
  const others = members.slice(1).map(userIdOf);

  setPhase("group: creating the group");
  const firstMembers = others.slice(0, GROUP_MEMBERS_PER_FRAME - 1);
  const createStarted = performance.now();
  const created = (await owner.request({ type: "group.create", name: "bench", members: firstMembers })).group;
  const createMs = performance.now() - createStarted;
  progress(`group: created ${created.groupId} with ${firstMembers.length + 1} members in ${Math.round(createMs)} ms`);
  const addStarted = performance.now();
  let addFrames = 0;
  for (let i = firstMembers.length; i < others.length; i += GROUP_MEMBERS_PER_FRAME) {
    const chunk = others.slice(i, i + GROUP_MEMBERS_PER_FRAME);
    const frameStarted = performance.now();
    const info = (await owner.request({ type: "group.add", groupId: created.groupId, members: chunk })).group;
    addFrames += 1;
    progress(`group: added ${chunk.length} members (${info.memberCount} now) in ${Math.round(performance.now() - frameStarted)} ms`);
  }
  const addMs = performance.now() - addStarted;

  // The group's topic is new: the fan-out consumer finds it (a topic refresh and a
  // consumer restart) before the first message goes out.
  setPhase("group: first message");
  const first = new GroupWatch(created.groupId, "first-", 1, members);
  const firstStarted = performance.now();
  first.sentAt[0] = firstStarted;
  await sendGroupMessage(owner, created.groupId, text, "first-0");
  await waitForDeliveries(() => first.delivered, members.length, "group: first message deliveries", context);
  first.detach();
  const firstMessageMs = first.delivered === members.length ? performance.now() - firstStarted : null;
  progress(`group: first message reached ${first.delivered} of ${members.length} members in ${Math.round(performance.now() - firstStarted)} ms`);

  return {
    groupId: created.groupId,
    owner,
    members,
    setup: {
      members: members.length,
      connectMs: Math.round(connectMs),
      createMs: Math.round(createMs),
      addFrames,
      addMs: Math.round(addMs),
      firstMessageMs: firstMessageMs === null ? null : Math.round(firstMessageMs),
      firstMessageDelivered: first.delivered,
    },
  };
}

/** `n` messages to the group from the first `senderCount` members (the owner first), `window` in flight per sender. */
export async function sendToGroup(
  group: GroupFixture,
  prefix: string,
  n: number,
  senderCount: number,
  window: number,
  text: string,
  limit: StallLimit,
): Promise<GroupFigures> {
  const watch = new GroupWatch(group.groupId, prefix, n, group.members);
  const senders = group.members.slice(0, Math.max(1, Math.min(senderCount, n, group.members.length)));
  let acked = 0;
  let errors = 0;
  let firstError: string | null = null;
  let lastAckAt = 0;
  const start = performance.now();
  try {
    // Sender k sends messages k, k + senders, k + 2 × senders, ...
    await Promise.all(
      senders.map((sender, k) =>
        runWindowed(
          Math.ceil((n - k) / senders.length),
          window,
          () => sender.state === "open",
          async (j) => {
            const i = k + j * senders.length;
            const sentAt = performance.now();
            watch.sentAt[i] = sentAt;
            try {
              await sendGroupMessage(sender, group.groupId, text, prefix + String(i));
              const now = performance.now();
              watch.ackMs[i] = now - sentAt;
              acked += 1;
              lastAckAt = now;
            } catch (error) {
              errors += 1;
              firstError ??= error instanceof Error ? error.message : String(error);
            }
          },
        ),
      ),
    );
    await waitForDeliveries(() => watch.delivered, acked * group.members.length, "group deliveries", limit);
  } finally {
    watch.detach();
  }
  const expectedDeliveries = acked * group.members.length;
  const ackPhaseMs = acked > 0 ? lastAckAt - start : 0;
  const durationMs = watch.delivered > 0 ? watch.lastDeliveryAt - start : 0;
  return {
    members: group.members.length,
    senders: senders.length,
    messages: n,
    window,
    textBytes: text.length,
    acked,
    errors,
    firstError,
    expectedDeliveries,
    delivered: watch.delivered,
    missing: expectedDeliveries - watch.delivered,
    duplicates: watch.duplicates,
    deliveredByTier: { ...watch.byTier },
    ackPhaseMs: round2(ackPhaseMs),
    durationMs: round2(durationMs),
    acksPerSecond: perSecond(acked, ackPhaseMs),
    deliveriesPerSecond: perSecond(watch.delivered, durationMs),
    ackLatencyMs: percentiles(watch.ackMs),
    deliveryLatencyMs: percentiles(Float64Array.from(watch.latencies)),
    lastMemberLatencyMs: percentiles(watch.lastMemberMs),
    ackToLastMemberMs: percentiles(watch.lastMemberMs.map((ms, i) => ms - (watch.ackMs[i] ?? NaN))),
  };
}


/** The report lines of one group run, titled with its `label`. */
export function describeGroup(label: string, r: GroupFigures): string[] {
  const from = r.senders === 1 ? "from the owner" : `from ${r.senders} members at once`;
  return [
    `Group fan-out, ${label} (${r.members} members; ${r.messages} messages ${from}, window ${r.window} per sender, ${r.textBytes}-byte text)`,
    describeAcks(r),
    `  deliveries:  ${r.deliveriesPerSecond} per second (${r.delivered} of ${r.expectedDeliveries} in ${Math.round(r.durationMs)} ms; realtime ${r.deliveredByTier.realtime}, batched ${r.deliveredByTier.batched}${r.missing > 0 ? `, ${r.missing} MISSING` : ""}${r.duplicates > 0 ? `, ${r.duplicates} duplicates` : ""})`,
    describeLatency("send → ack           ", r.ackLatencyMs),
    describeLatency("send → each member   ", r.deliveryLatencyMs),
    describeLatency("send → last member   ", r.lastMemberLatencyMs),
    describeLatency("ack → last member    ", r.ackToLastMemberMs),
  ];
}

