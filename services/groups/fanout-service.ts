import { activityTopic, CONSUMER_GROUPS, groupTopics, notificationTopic } from "../events/topics.js";
import type { DeliveryRouter } from "../delivery/delivery-router.js";
import type { ConnectionRegistry, DeviceRoute } from "../ports/connection-registry.js";
import { type EventBus, publishTo, subscribeTo, type Subscription } from "../ports/event-bus.js";
import type { GroupStore } from "../ports/group-store.js";
import type { Message } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import { ActivityScores } from "./activity-scores.js";
import { IdleBatcher } from "./idle-batcher.js";
import type { NotificationRequest } from "../events/notification-request.js";

export interface FanoutOptions {
  clusterName: string;
  activeScoreThreshold: number;
  activityHalfLifeMs: number;
  idleBatchDelayMs: number;
  idleBatchMaxMessages: number;
  /** Names this process's own reader of the activity topic (CONSUMER_GROUPS.fanoutActivity). */
  processId: string;
}

export interface FanoutDependencies {
  bus: EventBus;
  groups: GroupStore;
  registry: ConnectionRegistry;
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
  /** The member's activity score now. */
  score: number;
  activeScoreThreshold: number;
}

/**
 * Which tier a member is in: no connection, nothing to push to; the sender, and anyone
 * active enough, at once; connected but idle, batched.
 */
export function chooseTier({ online, isSender, score, activeScoreThreshold }: TierInputs): DeliveryTier {
  if (!online) return "offline";
  if (isSender || score >= activeScoreThreshold) return "realtime";
  return "batched";
}

/**
 * Consumes every group topic and delivers each message by the member's activity:
 * - active (online, score at or above the threshold, or the sender): pushed at once;
 * - idle (online, lower score): held and pushed in one batched frame after a delay;
 * - offline: nothing pushed; a notification request goes out (to anyone but the sender),
 *   and the message waits in the group's history for sync (group.list shows the unread count).
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
    this.batcher = new IdleBatcher(options.idleBatchDelayMs, options.idleBatchMaxMessages, (userId, messages) => {
      this.releaseBatch(userId, messages).catch((error: unknown) => {
        deps.logger.warn({ err: error, userId }, "batched group delivery failed; the member will sync");
      });
    });
  }

  async start(): Promise<void> {
    this.subscriptions = [
      await subscribeTo(
        this.deps.bus,
        activityTopic(this.options.clusterName),
        CONSUMER_GROUPS.fanoutActivity(this.options.processId),
        (event) => {
          this.scores.record(event.userId, event.kind, event.at);
        },
        ({ topic }) => {
          this.deps.logger.error({ topic }, "dropped a malformed activity event");
        },
      ),
      await subscribeTo(
        this.deps.bus,
        groupTopics(this.options.clusterName),
        CONSUMER_GROUPS.fanout,
        (event) => this.fanOut(event.message),
        ({ topic }) => {
          this.deps.logger.error({ topic }, "dropped a malformed group message event");
        },
      ),
    ];
    this.pruneTimer = setInterval(() => {
      this.scores.prune();
    }, this.options.activityHalfLifeMs);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    await Promise.all(this.subscriptions.map((s) => s.unsubscribe()));
    this.subscriptions = [];
    this.batcher.clear();
  }

  /** Which tier a member is in right now. */
  tierOf(userId: UserId, online: boolean, isSender: boolean): DeliveryTier {
    return chooseTier({ online, isSender, score: this.scores.score(userId), activeScoreThreshold: this.options.activeScoreThreshold });
  }

  private async fanOut(message: Message): Promise<void> {
    const groupId = message.groupId;
    if (groupId === undefined) return;
    // Read per message, so a member removed before it was stored gets nothing.
    const members = await this.deps.groups.allMembers(groupId);
    const storedAt = Date.parse(message.sentAt);
    // Every member's routes asked at once (the registry may be a network hop away), then
    // sorted into tiers in one plain loop: no closure or promise chain per member.
    const routesOfMembers = await Promise.all(members.map((member) => this.deps.registry.routesFor(member.userId)));
    // Every real-time member's devices get one frame, sent as one envelope per gateway
    // rather than one per member: the frame is the same for all of them.
    const realtimeRoutes: DeviceRoute[] = [];
    let realtimeMembers = 0;
    const notifications: Promise<void>[] = [];
    members.forEach(({ userId }, index) => {
      const routes = routesOfMembers[index] ?? [];
      switch (this.tierOf(userId, routes.length > 0, userId === message.senderId)) {
        case "realtime":
          for (const route of routes) realtimeRoutes.push(route);
          realtimeMembers += 1;
          return;
        case "batched":
          this.batcher.add(userId, message);
          return;
        case "offline": {
          // A sender whose device went between posting and fan-out wrote the message:
          // there is nothing to tell them.
          if (userId === message.senderId) return;
          const request: NotificationRequest = { userId, groupId, conversationId: message.conversationId, messageId: message.messageId, senderId: message.senderId, seq: message.seq };
          notifications.push(publishTo(this.deps.bus, notificationTopic(this.options.clusterName), userId, request));
          return;
        }
      }
    });
    const pushed =
      realtimeRoutes.length === 0
        ? Promise.resolve()
        : this.deps.router.pushToRoutes(realtimeRoutes, { type: "group.messages", tier: "realtime", messages: [message] }, storedAt).then(() => {
            this.observe("realtime", storedAt, realtimeMembers);
          });
    await Promise.all([
      pushed,
      Promise.all(notifications).then(() => {
        this.observe("offline", storedAt, notifications.length);
      }),
    ]);
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

  /** `count` deliveries of one tier that left at the same moment: the figures are worked out once. */
  private observe(tier: DeliveryTier, storedAt: number, count = 1): void {
    if (count === 0) return;
    this.deps.metrics.groupDeliveries.inc({ tier }, count);
    const delay = this.deps.metrics.groupDeliveryDelay.labels({ tier });
    const seconds = Math.max(0, this.now() - storedAt) / 1000;
    for (let i = 0; i < count; i++) delay.observe(seconds);
  }
}
