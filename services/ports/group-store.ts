import type { GroupRole } from "../protocol/frames.js";
import type { GroupId, UserId } from "../protocol/ids.js";
import type { Page } from "./message-store.js";

/**
 * Groups and their members with roles (Cassandra in production). Membership is the
 * authority for who may post to and read a group, so every check reads it here.
 */
export interface GroupStore {
  createGroup(group: NewGroup): Promise<void>;
  getGroup(groupId: GroupId): Promise<GroupRecord | null>;
  roleOf(groupId: GroupId, userId: UserId): Promise<GroupRole | null>;
  /**
   * Adds the members not yet in the group, all or none: throws GroupFullError when they
   * would take the group past `maxMembers`. Resolves with the user ids actually added.
   */
  addMembers(groupId: GroupId, members: readonly GroupMember[], maxMembers: number): Promise<UserId[]>;
  /** Resolves with the user ids that were members and are removed. */
  removeMembers(groupId: GroupId, userIds: readonly UserId[]): Promise<UserId[]>;
  setRole(groupId: GroupId, userId: UserId, role: GroupRole): Promise<void>;
  /** Members ordered by user id, after `after`. */
  listMembers(groupId: GroupId, after: UserId | undefined, limit: number): Promise<Page<GroupMember>>;
  /**
   * Every member: what fan-out reads for each message, so it must show every change
   * made before the call (a removed member gets nothing). Read-only: a store may hand
   * the same list to every caller.
   */
  allMembers(groupId: GroupId): Promise<readonly GroupMember[]>;
  groupsOf(userId: UserId): Promise<{ groupId: GroupId; name: string; role: GroupRole }[]>;
  close(): Promise<void>;
}

export interface GroupMember {
  userId: UserId;
  role: GroupRole;
}

export interface NewGroup {
  groupId: GroupId;
  name: string;
  createdBy: UserId;
  createdAt: Date;
  /** The creator as owner, and any first members. */
  members: GroupMember[];
}

export interface GroupRecord {
  groupId: GroupId;
  name: string;
  createdBy: UserId;
  createdAt: Date;
  memberCount: number;
}

export class GroupFullError extends Error {
  constructor(
    readonly groupId: GroupId,
    readonly maxMembers: number,
  ) {
    super(`group ${groupId} would exceed its maximum of ${maxMembers} members`);
    this.name = "GroupFullError";
  }
}
