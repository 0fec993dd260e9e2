import { setImmediate as nextTurn } from "node:timers/promises";
import { activityTopic, CONSUMER_GROUPS, groupShardTopics, groupTopics, notificationTopic, type GroupTopicLayout } from "../events/topics.js";
import type { DeliveryRouter } from "../delivery/delivery-router.js";
import type { ConnectionRegistry, DeviceRoute } from "../ports/connection-registry.js";
import { type EventBus, publishTo, subscribeTo, type Subscription } from "../ports/event-bus.js";
import type { GroupMember, GroupStore } from "../ports/group-store.js";
import type { HeldBatchStore } from "../ports/held-batch-store.js";
import type { Message } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import { ActivityScores } from "./activity-scores.js";
import { IdleBatcher } from "./idle-batcher.js";
import { MAX_NOTIFICATION_RECIPIENTS, notificationRequests } from "../events/notification-request.js";

/**
 * Members handled per turn of the event loop: one bulk route look-up, one push per
 * gateway, their tiers. Between chunks the fan-out yields, so /healthz, the other
 * consumers and the gateways' replies run while a 10,000-member group fans out, and a
 * message holds at most one chunk's routes and frames at a time.
 */
export const FANOUT_CHUNK_MEMBERS = 500;
/**
 * Group messages one process fans out at once, of different groups (each holds its member
 * list and one chunk): bounds memory; a group's own messages go out one after another,
 * in order (the bus runs the events of one key, the group, one at a time).
 */
export const MESSAGES_FANNING_OUT = 4;
/**
 * How often every replica sweeps the shared store for held batches due and not released
 * by the replica that opened them (it died or stopped): such a batch leaves at most this
 * long after its due time, for one small script per due-index shard per sweep.
 */
export const HELD_BATCH_SWEEP_MS = 250;

export interface FanoutOptions {
  clusterName: string;
  activeScoreThreshold: number;
  activityHalfLifeMs: number;
  idleBatchDelayMs: number;
  idleBatchMaxMessages: number;
  /** PARLEY_GROUP_TOPICS: the shared topics are created before the fan-out subscribes, so their first messages wait for no pick-up. */
  groupTopics: GroupTopicLayout;
  /** Names this process's own reader of the activity topic (CONSUMER_GROUPS.fanoutActivity). */
  processId: string;
}

export interface FanoutDependencies {
  bus: EventBus;
  groups: GroupStore;
  registry: ConnectionRegistry;
  /** Idle members' held batches, shared by every groups replica. */
  heldBatches: HeldBatchStore;
  router: DeliveryRouter;
  metrics: Metrics;
  logger: Logger;
  /** Epoch ms; for activity decay and the delivery delay metric. */
  now?: () => number;
}

export type DeliveryTier = "realtime" | "batched" | "offline";

/** What decides a member's tier for one message. */
export interface TierInputs {
  /** The member has at least one connected device. */
  online: boolean;
  /** The member wrote the message. */
  isSender: boolean;
  /** The member's activity score is at or above the active threshold now. */
  active: boolean;
}

/**
 * Which tier a member is in: no connection, nothing to push to; the sender, and anyone
 * active enough, at once; connected but idle, batched.
 */
export function chooseTier({ online, isSender, active }: TierInputs): DeliveryTier {
  if (!online) return "offline";
  if (isSender || active) return "realtime";
  return "batched";
}

/**
 * Consumes every group topic and delivers each message by the member's activity:
 * - active (online, score at or above the threshold, or the sender): pushed at once;
 * - idle (online, lower score): held in the shared HeldBatchStore and pushed in one
 *   batched frame after a delay (one batch of all their groups, whichever replica fans
 *   each out; released by another replica if this one dies);
 * - offline: nothing pushed; one notification request per message names them all (a few
 *   for a huge group; never the sender), and the message waits in the group's history for
 *   sync (group.list shows the unread count).
 * A big group is handled FANOUT_CHUNK_MEMBERS members at a time, with a turn of the event
 * loop between chunks, and at most MESSAGES_FANNING_OUT messages at once.
 * Membership is read per message and again when a batch is released, so a removed
 * member stops receiving at once.
 */
export class FanoutService {
  private readonly scores: ActivityScores;
  private readonly batcher: IdleBatcher;
  private subscriptions: Subscription[] = [];
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(
    private readonly options: FanoutOptions,
    private readonly deps: FanoutDependencies,
  ) {
    this.now = deps.now ?? Date.now;
    this.scores = new ActivityScores(options.activityHalfLifeMs, this.now);
    this.batcher = new IdleBatcher(
      deps.heldBatches,
      { delayMs: options.idleBatchDelayMs, maxMessages: options.idleBatchMaxMessages, sweepIntervalMs: HELD_BATCH_SWEEP_MS },
      (userId, messages) => {
        this.releaseBatch(userId, messages).catch((error: unknown) => {
          deps.logger.warn({ err: error, userId }, "batched group delivery failed; the member will sync");
        });
      },
      this.now,
      (error) => {
        deps.logger.warn({ err: error }, "releasing held batches failed; they are retried on the next sweep or the members sync");
      },
    );
  }

  async start(): Promise<void> {
    this.subscriptions = [
      await subscribeTo(
        this.deps.bus,
        activityTopic(this.options.clusterName),
        CONSUMER_GROUPS.fanoutActivity(this.options.processId),
        (event) => {
          this.scores.record(event.userId, event.kind, event.at, event.count);
        },
        ({ topic }) => {
          this.deps.logger.error({ topic }, "dropped a malformed activity event");
        },
      ),
      // Both layouts of PARLEY_GROUP_TOPICS, whichever is set: after a change of layout the
      // topics of the other are still drained (a family without topics costs no consumer).
      ...(await Promise.all(
        [groupTopics(this.options.clusterName), groupShardTopics(this.options.clusterName, this.options.groupTopics)].map((family) =>
          subscribeTo(
            this.deps.bus,
            family,
            CONSUMER_GROUPS.fanout,
            (event) => this.fanOut(event.message),
            ({ topic }) => {
              this.deps.logger.error({ topic }, "dropped a malformed group message event");
            },
            { concurrency: MESSAGES_FANNING_OUT },
          ),
        ),
      )),
    ];
    this.pruneTimer = setInterval(() => {
      this.scores.prune();
    }, this.options.activityHalfLifeMs);
    this.pruneTimer.unref();
    this.batcher.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    await Promise.all(this.subscriptions.map((s) => s.unsubscribe()));
    this.subscriptions = [];
    this.batcher.stop();
  }

  private async fanOut(message: Message): Promise<void> {
    const groupId = message.groupId;
    if (groupId === undefined) return;
    // Read per message, so a member removed before it was stored gets nothing.
    const members = await this.deps.groups.allMembers(groupId);
    const storedAt = Date.parse(message.sentAt);
    const about = { groupId, conversationId: message.conversationId, messageId: message.messageId, senderId: message.senderId, seq: message.seq };
    let offline: UserId[] = [];
    for (let first = 0; first < members.length; first += FANOUT_CHUNK_MEMBERS) {
      if (first > 0) await nextTurn();
      const end = Math.min(members.length, first + FANOUT_CHUNK_MEMBERS);
      const chunk: UserId[] = [];
      for (let i = first; i < end; i++) chunk.push((members[i] as GroupMember).userId);
      const routesOfMembers = await this.deps.registry.routesForUsers(chunk);
      // Every real-time member's devices get one frame, sent as one envelope per gateway
      // rather than one per member: the frame is the same for all of them.
      const realtimeRoutes: DeviceRoute[] = [];
      let realtimeMembers = 0;
      const batched: UserId[] = [];
      // One clock reading for the chunk: its members are sorted at the same moment.
      const now = this.now();
      for (const userId of chunk) {
        const routes = routesOfMembers.get(userId);
        const online = routes !== undefined && routes.length > 0;
        const isSender = userId === message.senderId;
        const active = online && !isSender && this.scores.isAtLeast(userId, this.options.activeScoreThreshold, now);
        switch (chooseTier({ online, isSender, active })) {
          case "realtime":
            for (const route of routes ?? []) realtimeRoutes.push(route);
            realtimeMembers += 1;
            break;
          case "batched":
            batched.push(userId);
            break;
          case "offline":
            // A sender whose device went between posting and fan-out wrote the message:
            // there is nothing to tell them.
            if (userId !== message.senderId) offline.push(userId);
            break;
        }
      }
      // The chunk's idle members are held (one pipelined round trip) while the real-time frames go out.
      await Promise.all([this.batcher.add(batched, message), this.pushRealtime(realtimeRoutes, realtimeMembers, message, storedAt)]);
      // Full requests go out as they fill; the rest waits for the next chunk.
      const full = offline.length - (offline.length % MAX_NOTIFICATION_RECIPIENTS);
      if (full > 0) {
        await this.requestNotifications(offline.slice(0, full), about, storedAt);
        offline = offline.slice(full);
      }
    }
    await this.requestNotifications(offline, about, storedAt);
  }

  private async pushRealtime(routes: DeviceRoute[], members: number, message: Message, storedAt: number): Promise<void> {
    if (routes.length === 0) return;
    await this.deps.router.pushToRoutes(routes, { type: "group.messages", tier: "realtime", messages: [message] }, storedAt);
    this.observe("realtime", storedAt, members);
  }

  /** One notification request per message (or per MAX_NOTIFICATION_RECIPIENTS of its offline members), not one per member. */
  private async requestNotifications(userIds: UserId[], about: Parameters<typeof notificationRequests>[1], storedAt: number): Promise<void> {
    if (userIds.length === 0) return;
    const topic = notificationTopic(this.options.clusterName);
    // Keyed by conversation: the per-user limit is a shared claim, so which notifier
    // replica reads a request does not matter, and a group's requests stay in order.
    await Promise.all(notificationRequests(userIds, about).map((request) => publishTo(this.deps.bus, topic, about.conversationId, request)));
    this.observe("offline", storedAt, userIds.length);
  }

  private async releaseBatch(userId: UserId, held: Message[]): Promise<void> {
    const stillMember = await Promise.all(
      [...new Set(held.map((m) => m.groupId))].map(async (groupId) => [groupId, groupId !== undefined && (await this.deps.groups.roleOf(groupId, userId)) !== null] as const),
    );
    const allowed = new Set(stillMember.filter(([, ok]) => ok).map(([groupId]) => groupId));
    const messages = held.filter((m) => allowed.has(m.groupId));
    if (messages.length === 0) return;
    const routes = await this.deps.registry.routesFor(userId);
    // Gone offline while the batch was held: the messages wait for sync.
    if (routes.length === 0) return;
    const oldest = Math.min(...messages.map((m) => Date.parse(m.sentAt)));
    await this.deps.router.pushToRoutes(routes, { type: "group.messages", tier: "batched", messages }, oldest);
    for (const message of messages) this.observe("batched", Date.parse(message.sentAt));
  }

  /**
   * `count` deliveries of one tier handed over at the same moment (one push, one held
   * chunk, one notification request): counted, and their delay observed once for the
   * hand-over rather than once per member, which at 10,000 members was a histogram
   * update per delivery on the hot path.
   */
  private observe(tier: DeliveryTier, storedAt: number, count = 1): void {
    if (count === 0) return;
    this.deps.metrics.groupDeliveries.inc({ tier }, count);
    this.deps.metrics.groupDeliveryDelay.observe({ tier }, Math.max(0, this.now() - storedAt) / 1000);
  }
}
