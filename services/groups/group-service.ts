import { monotonicFactory } from "ulid";
import { groupTopic, type GroupTopicLayout } from "../events/topics.js";
import type { DeliveryRouter } from "../delivery/delivery-router.js";
import { publishTo, type EventBus } from "../ports/event-bus.js";
import { GroupFullError, type GroupMember, type GroupStore } from "../ports/group-store.js";
import type { MessageStore, Page } from "../ports/message-store.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import type { GroupInfo, GroupMembershipChange, GroupRole, GroupSummary, Message, MessageBody } from "../protocol/frames.js";
import { groupConversationId, type GroupId, type UserId } from "../protocol/ids.js";
import type { Logger } from "../runtime/logger.js";
import type { GroupMessageEvent } from "../events/group-message-event.js";
import type { MessageWriter, Sender } from "../conversations/message-writer.js";

export interface GroupServiceDependencies {
  groups: GroupStore;
  messages: MessageStore;
  writer: MessageWriter;
  bus: EventBus;
  router: DeliveryRouter;
  clusterName: string;
  /** Which topic a group's messages go to (PARLEY_GROUP_TOPICS). */
  groupTopics: GroupTopicLayout;
  maxMembers: number;
  logger: Logger;
  clock?: () => Date;
}

/**
 * Who may do what, enforced here:
 * - owner: everything, and is the only one who changes roles (making someone else owner
 *   hands over ownership; the old owner becomes admin);
 * - admin: adds members, removes members (not admins or the owner);
 * - member: reads, posts, leaves.
 * The owner cannot leave while others remain: ownership goes to someone else first.
 */
export class GroupService {
  private readonly nextId = monotonicFactory();
  private readonly clock: () => Date;

  constructor(private readonly deps: GroupServiceDependencies) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async create(creator: UserId, name: string, initialMembers: readonly UserId[]): Promise<GroupInfo> {
    const others = [...new Set(initialMembers)].filter((userId) => userId !== creator);
    if (others.length + 1 > this.deps.maxMembers) throw groupFull(this.deps.maxMembers);
    const groupId = `g${this.nextId()}`;
    const members: GroupMember[] = [{ userId: creator, role: "owner" }, ...others.map((userId) => ({ userId, role: "member" as const }))];
    await this.deps.groups.createGroup({ groupId, name, createdBy: creator, createdAt: this.clock(), members });
    await this.announce(groupId, members.map((m) => [m.userId, "added", m.role]), creator);
    return this.info(creator, groupId);
  }

  async add(caller: UserId, groupId: GroupId, userIds: readonly UserId[]): Promise<GroupInfo> {
    await this.requireRole(caller, groupId, ["owner", "admin"]);
    let added: UserId[];
    try {
      added = await this.deps.groups.addMembers(groupId, userIds.map((userId) => ({ userId, role: "member" })), this.deps.maxMembers);
    } catch (error) {
      if (error instanceof GroupFullError) throw groupFull(error.maxMembers);
      throw error;
    }
    await this.announce(groupId, added.map((userId) => [userId, "added", "member"]), caller);
    return this.info(caller, groupId);
  }

  async remove(caller: UserId, groupId: GroupId, userIds: readonly UserId[]): Promise<GroupInfo> {
    const callerRole = await this.requireRole(caller, groupId, ["owner", "admin"]);
    for (const userId of userIds) {
      const role = await this.deps.groups.roleOf(groupId, userId);
      if (role === "owner") throw new ProtocolError(ErrorCode.forbidden, "the owner cannot be removed");
      if (role === "admin" && callerRole !== "owner") throw new ProtocolError(ErrorCode.forbidden, "only the owner removes admins");
    }
    const removed = await this.deps.groups.removeMembers(groupId, userIds);
    await this.announce(groupId, removed.map((userId) => [userId, "removed", null]), caller);
    return this.info(caller, groupId);
  }

  async leave(caller: UserId, groupId: GroupId): Promise<void> {
    const role = await this.requireRole(caller, groupId, ["owner", "admin", "member"]);
    if (role === "owner") {
      const group = await this.deps.groups.getGroup(groupId);
      if (group && group.memberCount > 1) {
        throw new ProtocolError(ErrorCode.forbidden, "the owner must make someone else owner (group.role) before leaving");
      }
    }
    await this.deps.groups.removeMembers(groupId, [caller]);
    await this.announce(groupId, [[caller, "removed", null]], caller);
  }

  async setRole(caller: UserId, groupId: GroupId, userId: UserId, role: GroupRole): Promise<GroupInfo> {
    await this.requireRole(caller, groupId, ["owner"]);
    if (userId === caller) throw new ProtocolError(ErrorCode.forbidden, "the owner changes their own role by making someone else owner");
    if ((await this.deps.groups.roleOf(groupId, userId)) === null) {
      throw new ProtocolError(ErrorCode.notFound, `${userId} is not a member of group ${groupId}`);
    }
    await this.deps.groups.setRole(groupId, userId, role);
    const changes: [UserId, GroupMembershipChange["change"], GroupRole | null][] = [[userId, "role", role]];
    if (role === "owner") {
      await this.deps.groups.setRole(groupId, caller, "admin");
      changes.push([caller, "role", "admin"]);
    }
    await this.announce(groupId, changes, caller);
    return this.info(caller, groupId);
  }

  async info(caller: UserId, groupId: GroupId): Promise<GroupInfo> {
    const role = await this.requireRole(caller, groupId, ["owner", "admin", "member"]);
    const group = await this.deps.groups.getGroup(groupId);
    if (!group) throw notFound(groupId);
    const conversationId = groupConversationId(groupId);
    const state = (await this.deps.messages.conversationStates(caller, [conversationId])).get(conversationId);
    return {
      groupId,
      name: group.name,
      createdBy: group.createdBy,
      createdAt: group.createdAt.toISOString(),
      memberCount: group.memberCount,
      maxMembers: this.deps.maxMembers,
      role,
      lastSeq: state?.lastSeq ?? 0,
    };
  }

  async members(caller: UserId, groupId: GroupId, after: UserId | undefined, limit: number): Promise<Page<GroupMember>> {
    await this.requireRole(caller, groupId, ["owner", "admin", "member"]);
    return this.deps.groups.listMembers(groupId, after, limit);
  }

  /** The caller's groups with unread counts: what an offline member reads on return. */
  async list(caller: UserId): Promise<GroupSummary[]> {
    const groups = await this.deps.groups.groupsOf(caller);
    const states = await this.deps.messages.conversationStates(
      caller,
      groups.map((g) => groupConversationId(g.groupId)),
    );
    return groups.map((group) => {
      const state = states.get(groupConversationId(group.groupId)) ?? { lastSeq: 0, readSeq: 0 };
      return { ...group, lastSeq: state.lastSeq, readSeq: state.readSeq, unread: Math.max(0, state.lastSeq - state.readSeq) };
    });
  }

  /**
   * Stores the message once, then publishes it on the group's topic for the fan-out.
   * Resolves (and the sender is acked) once it is stored: if the publish fails, members
   * still find it on sync.
   */
  async send(sender: Sender, groupId: GroupId, clientMessageId: string, body: MessageBody): Promise<{ message: Message; duplicate: boolean }> {
    await this.requireRole(sender.userId, groupId, ["owner", "admin", "member"]);
    await this.deps.writer.attach(sender.userId, body, groupConversationId(groupId));
    const appended = await this.deps.writer.append(() =>
      this.deps.messages.appendGroupMessage({ groupId, senderId: sender.userId, senderDeviceId: sender.deviceId, clientMessageId, body, sentAt: this.clock() }),
    );
    if (!appended.duplicate) {
      const event: GroupMessageEvent = { message: appended.message };
      publishTo(this.deps.bus, groupTopic(this.deps.clusterName, groupId, this.deps.groupTopics), groupId, event).catch((error: unknown) => {
        this.deps.logger.warn({ err: error, groupId }, "could not publish a group message; members will sync");
      });
    }
    return appended;
  }

  private async requireRole(userId: UserId, groupId: GroupId, allowed: readonly GroupRole[]): Promise<GroupRole> {
    const role = await this.deps.groups.roleOf(groupId, userId);
    // Non-members learn nothing about whether the group exists.
    if (role === null) throw notFound(groupId);
    if (!allowed.includes(role)) throw new ProtocolError(ErrorCode.forbidden, `this needs the role ${allowed.join(" or ")}; you are ${role}`);
    return role;
  }

  /** Tells each affected user, durably through their inbox, and live to their devices. */
  private async announce(groupId: GroupId, changes: readonly (readonly [UserId, GroupMembershipChange["change"], GroupRole | null])[], by: UserId): Promise<void> {
    const at = this.clock();
    for (const [userId, change, role] of changes) {
      const appended = await this.deps.messages.appendMembershipChange(userId, { groupId, change, role, by, at: at.toISOString() });
      this.deps.router.deliverInboxEvents([appended], at).catch((error: unknown) => {
        this.deps.logger.warn({ err: error }, "live membership delivery failed; devices will sync");
      });
    }
  }
}

function notFound(groupId: GroupId): ProtocolError {
  return new ProtocolError(ErrorCode.notFound, `no group ${groupId} that you are a member of`);
}

function groupFull(maxMembers: number): ProtocolError {
  return new ProtocolError(ErrorCode.groupFull, `a group has at most ${maxMembers} members`);
}
