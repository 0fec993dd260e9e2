import type { ActivityEvent } from "../events/activity-event.js";
import type { ConversationAccess } from "../conversations/conversation-access.js";
import type { DeliveryRouter } from "../delivery/delivery-router.js";
import { activityTopic, CONSUMER_GROUPS } from "../events/topics.js";
import type { Session } from "../protocol/session.js";
import type { Logger } from "../runtime/logger.js";
import type { DeviceRoute } from "../ports/connection-registry.js";
import { subscribeTo, type EventBus, type Subscription } from "../ports/event-bus.js";
import type { MessageStore } from "../ports/message-store.js";
import type { OncePerWindow } from "../ports/once-per-window.js";
import type { Presence, PresenceStore } from "../ports/presence-store.js";
import type { PresenceWatchStore } from "../ports/presence-watch-store.js";
import { DEFAULT_USER_SETTINGS, type UserSettings, type UserSettingsStore } from "../ports/user-settings-store.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import type { LastSeenVisibility, PresenceView } from "../protocol/frames.js";
import { directConversationId, type ConversationId, type UserId } from "../protocol/ids.js";

/** Presence marks (and subscriber connections) outlive three missed heartbeat rounds. */
export const MARK_TTL_HEARTBEATS = 3;
/**
 * At most one typing push per (typer, conversation) in this window; typing frames in
 * between are dropped, not delayed. Clients repeat `typing` every few seconds while the
 * user types, so the indicator stays on, and a typer in a big group cannot make the
 * server push to every member on each keystroke.
 */
export const TYPING_PUSH_INTERVAL_MS = 2_000;
/** Users one connection may watch at once: bounds the memory a client can make us hold. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 1_000;

/** What the presence service needs of the delivery router. */
export type PushRouter = Pick<DeliveryRouter, "pushToUser" | "pushToRoutes">;

export interface PresenceDependencies {
  bus: EventBus;
  clusterName: string;
  heartbeatIntervalMs: number;
  presence: PresenceStore;
  /** Who watches whom, shared by every presence replica. */
  watches: PresenceWatchStore;
  /** The typing push limit, shared by every presence replica. */
  claims: OncePerWindow;
  settings: UserSettingsStore;
  router: PushRouter;
  access: ConversationAccess;
  /** Read for "contacts" visibility: who has written to whom in direct conversations. */
  messages: Pick<MessageStore, "directSenders">;
  logger: Logger;
  typingIntervalMs?: number;
}

/**
 * Online state, last seen and typing indicators.
 *
 * Reads the gateways' activity topic: connects and heartbeats mark a connection online
 * in the presence store for three heartbeat intervals, disconnects end the mark, and a
 * sweep every heartbeat interval finds the marks that lapsed (a crashed device, a dead
 * gateway). When a user's online state flips, their subscribers who may see it get a
 * `presence` push. Marks are kept per connection, not per device, so a device that
 * reconnects before its old connection is noticed closed is not taken offline by the
 * late close.
 *
 * Visibility is the watched user's `lastSeenVisibility`, checked on the server for every
 * view: `everyone`; `contacts`, the users with whom they have exchanged direct messages,
 * each side having sent at least one (a stranger's unanswered message does not count,
 * or anyone could watch anyone by writing first); `nobody`. Users always see themselves. A hidden view has
 * `online` and `lastSeen` null, and a transition is not pushed to those who may not see
 * it at all (the push itself would give the transition away).
 *
 * Any number of replicas may run: the activity topic is split by user across them, so
 * the replica that sees a user's state change is rarely the one that took the subscribe
 * of those watching. Subscriptions therefore live in the shared watch store, per
 * subscriber connection, with a lease of four heartbeat intervals renewed by the
 * connection's heartbeats (whichever replica reads them): they end with the connection's
 * disconnect, or when its gateway died and the lease lapsed. Pushes go through the
 * delivery router to the watcher's gateway, whichever that is. The typing limit is a
 * shared claim per (typer, conversation). Only the per-user ordering of pushes is this
 * process's: a user's activity events all reach the one replica that owns their
 * partition. See docs/adr/0011-replica-state.md.
 */
export class PresenceService {
  private readonly typingIntervalMs: number;
  /** Per watched user: store changes and the pushes they cause run one at a time, in order. */
  private readonly tails = new Map<UserId, Promise<void>>();
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly deps: PresenceDependencies) {
    this.typingIntervalMs = deps.typingIntervalMs ?? TYPING_PUSH_INTERVAL_MS;
  }

  private get ttlMs(): number {
    return this.deps.heartbeatIntervalMs * MARK_TTL_HEARTBEATS;
  }

  /**
   * A watching connection's lease: one heartbeat interval longer than a mark, because the
   * sweep that reports a lapsed mark runs up to one interval after the lapse, and a
   * watcher heard of in the same round as the crashed user must still get that push.
   */
  private get leaseMs(): number {
    return this.ttlMs + this.deps.heartbeatIntervalMs;
  }

  async start(): Promise<void> {
    this.subscription = await subscribeTo(
      this.deps.bus,
      activityTopic(this.deps.clusterName),
      CONSUMER_GROUPS.presence,
      (event) => this.handleActivity(event),
      ({ topic, key }) => {
        this.deps.logger.error({ topic, key }, "dropped a malformed activity event");
      },
    );
    this.timer = setInterval(() => void this.sweep(), this.deps.heartbeatIntervalMs);
    this.timer.unref();
  }

  /** Stops the sweep and the activity subscription; waits for work under way. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.unsubscribe();
    await this.sweeping;
    await Promise.all(this.tails.values());
  }

  /** One activity event, validated: it crossed the bus. */
  async handleActivity(event: ActivityEvent): Promise<void> {
    switch (event.kind) {
      case "connect":
      case "heartbeat": {
        await this.deps.watches.renew(event.connectionId, this.leaseMs);
        await this.exclusive(event.userId, async () => {
          const change = await this.deps.presence.markOnline(event.userId, event.connectionId, this.ttlMs, new Date(event.at));
          if (change.changed) await this.announce(event.userId);
        });
        return;
      }
      case "disconnect":
        await this.deps.watches.drop(event.connectionId);
        await this.exclusive(event.userId, async () => {
          const change = await this.deps.presence.markOffline(event.userId, event.connectionId, new Date(event.at));
          if (change.changed) await this.announce(event.userId);
        });
        return;
      case "typing":
        if (event.conversationId !== undefined) await this.typing(event.userId, event.conversationId);
        return;
      case "send":
      case "read":
        return;
    }
  }

  /**
   * Ends lapsed marks and tells the subscribers of users this took offline (the watch
   * store ends lapsed watches by itself). The timer calls it every heartbeat interval;
   * rounds never overlap in this process, and the store reports each expiry to one
   * replica only.
   */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce()
      .catch((error: unknown) => {
        this.deps.logger.warn({ err: error }, "presence sweep failed; the next round retries");
      })
      .finally(() => {
        this.sweeping = undefined;
      });
    return this.sweeping;
  }

  /**
   * Starts watching `users` from a connection and returns what it may see of each, once
   * per distinct user, in the order given.
   */
  async subscribe(session: Session, users: readonly UserId[]): Promise<PresenceView[]> {
    const targets = [...new Set(users)];
    const route: DeviceRoute = { userId: session.userId, deviceId: session.deviceId, connectionId: session.connectionId, gatewayId: session.gatewayId };
    // Watch first, then read: a change after the read is pushed, so none falls in between.
    if (!(await this.deps.watches.watch(route, targets, this.leaseMs, MAX_SUBSCRIPTIONS_PER_CONNECTION))) {
      throw new ProtocolError(
        ErrorCode.invalidFrame,
        `a connection may watch at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} users: unsubscribe from some first`,
      );
    }
    const viewer = session.userId;
    const [presences, settings, senders] = await Promise.all([
      Promise.all(targets.map((target) => this.deps.presence.get(target))),
      this.deps.settings.getMany(targets),
      this.deps.messages.directSenders(targets.map((target) => directConversationId(viewer, target))),
    ]);
    return targets.map((target, i) => {
      const visibility = (settings.get(target) ?? DEFAULT_USER_SETTINGS).lastSeenVisibility;
      const contact = areContacts(viewer, target, senders);
      return viewOf(target, mayView(viewer, target, visibility, contact) ? (presences[i] ?? null) : null);
    });
  }

  /** Stops watching `users` from a connection; users it does not watch are ignored. */
  async unsubscribe(session: Session, users: readonly UserId[]): Promise<void> {
    await this.deps.watches.unwatch(session.connectionId, users);
  }

  /**
   * Changes who may see a user's presence. Subscribers for whom that changes get a push
   * at once: the state for those who may now see it, null for those who no longer may.
   */
  async setLastSeenVisibility(userId: UserId, visibility: LastSeenVisibility): Promise<void> {
    await this.exclusive(userId, async () => {
      const { before, after } = await this.deps.settings.update(userId, { lastSeenVisibility: visibility });
      if (before.lastSeenVisibility === after.lastSeenVisibility) return;
      const watchers = await this.deps.watches.watchersOf(userId);
      if (watchers.length === 0) return;
      const viewers = [...new Set(watchers.map((w) => w.userId))];
      const [sawBefore, seesNow] = await Promise.all([this.viewersAllowed(userId, viewers, before), this.viewersAllowed(userId, viewers, after)]);
      const gained = watchers.filter((w) => seesNow.has(w.userId) && !sawBefore.has(w.userId));
      const lost = watchers.filter((w) => sawBefore.has(w.userId) && !seesNow.has(w.userId));
      if (gained.length > 0) {
        await this.deps.router.pushToRoutes(gained, { type: "presence", presence: viewOf(userId, await this.deps.presence.get(userId)) });
      }
      if (lost.length > 0) await this.deps.router.pushToRoutes(lost, { type: "presence", presence: viewOf(userId, null) });
    });
  }

  private async sweepOnce(): Promise<void> {
    const expired = await this.deps.presence.expire();
    const announced = await Promise.allSettled(expired.map(({ userId }) => this.exclusive(userId, () => this.announce(userId))));
    for (const result of announced) {
      if (result.status === "rejected") this.deps.logger.warn({ err: result.reason }, "could not announce an expired user offline");
    }
  }

  /**
   * Pushes a user's presence to the subscribers who may see it. It reads the state
   * afresh rather than taking the one that caused it: pushes for a user run one at a
   * time, so the last one out always carries the latest state, even when a sweep and a
   * heartbeat cross.
   */
  private async announce(target: UserId): Promise<void> {
    const watchers = await this.deps.watches.watchersOf(target);
    if (watchers.length === 0) return;
    const allowed = await this.viewersAllowed(target, [...new Set(watchers.map((w) => w.userId))]);
    const routes = watchers.filter((w) => allowed.has(w.userId));
    if (routes.length === 0) return;
    const presence = await this.deps.presence.get(target);
    await this.deps.router.pushToRoutes(routes, { type: "presence", presence: viewOf(target, presence) });
  }

  /** Which of `viewers` may see `target`'s presence under `settings` (read when not given). */
  private async viewersAllowed(target: UserId, viewers: readonly UserId[], settings?: UserSettings): Promise<Set<UserId>> {
    const visibility = (settings ?? (await this.deps.settings.get(target))).lastSeenVisibility;
    if (visibility !== "contacts") return new Set(viewers.filter((viewer) => mayView(viewer, target, visibility, false)));
    const others = viewers.filter((viewer) => viewer !== target);
    const senders = others.length === 0 ? new Map<ConversationId, Set<UserId>>() : await this.deps.messages.directSenders(others.map((viewer) => directConversationId(target, viewer)));
    return new Set(viewers.filter((viewer) => mayView(viewer, target, visibility, areContacts(viewer, target, senders))));
  }

  private async typing(typer: UserId, conversationId: ConversationId): Promise<void> {
    // Claimed before the access check, so that typing into someone else's conversation
    // costs the store one lookup per window too.
    if (!(await this.deps.claims.claim(`typing:${typer}:${conversationId}`, this.typingIntervalMs))) return;
    if (!(await this.deps.access.canAccess(typer, conversationId))) {
      this.deps.logger.debug({ userId: typer, conversationId }, "dropped typing in a conversation the user does not take part in");
      return;
    }
    const others = (await this.deps.access.participants(conversationId)).filter((userId) => userId !== typer);
    await Promise.all(others.map((userId) => this.deps.router.pushToUser(userId, { type: "typing", conversationId, userId: typer })));
  }

  /** Runs `task` after every task queued for `userId` before it has settled. */
  private exclusive(userId: UserId, task: () => Promise<void>): Promise<void> {
    const run = (this.tails.get(userId) ?? Promise.resolve()).then(task);
    const tail = run.catch(() => undefined);
    this.tails.set(userId, tail);
    void tail.then(() => {
      if (this.tails.get(userId) === tail) this.tails.delete(userId);
    });
    return run;
  }
}

/** Contacts: each of the two has sent the other a direct message. */
function areContacts(viewer: UserId, target: UserId, senders: ReadonlyMap<ConversationId, ReadonlySet<UserId>>): boolean {
  const wrote = senders.get(directConversationId(viewer, target));
  return wrote !== undefined && wrote.has(viewer) && wrote.has(target);
}

function mayView(viewer: UserId, target: UserId, visibility: LastSeenVisibility, contact: boolean): boolean {
  if (viewer === target) return true;
  switch (visibility) {
    case "everyone":
      return true;
    case "contacts":
      return contact;
    case "nobody":
      return false;
  }
}

/** The wire view of a user's presence; null presence is a hidden one. */
function viewOf(userId: UserId, presence: Presence | null): PresenceView {
  if (presence === null) return { userId, online: null, lastSeen: null };
  return { userId, online: presence.online, lastSeen: presence.lastSeen?.toISOString() ?? null };
}
