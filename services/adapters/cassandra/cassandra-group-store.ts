import type { Client, types } from "cassandra-driver";
import type { GroupRole } from "../../protocol/frames.js";
import type { GroupId, UserId } from "../../protocol/ids.js";
import { GroupFullError, type GroupMember, type GroupRecord, type GroupStore, type NewGroup } from "../../ports/group-store.js";
import type { Page } from "../../ports/message-store.js";
import {
  checkedKeyspace,
  resolveConsistency,
  retryTransient,
  settleWithin,
  type CassandraOptions,
  type ResolvedConsistency,
} from "./cassandra-options.js";
import { KeyedMutex } from "./keyed-mutex.js";
import { connectAndMigrate } from "./migrations.js";
import { bigintOf, intOf, optionalTextOf, textOf, timestampOf } from "./rows.js";

/**
 * The production group store (tables: migration 2 in migrations.ts).
 *
 * A group is one partition of `groups`: name, creator, member count and a `version`
 * counter as static columns, one clustering row per member (ordered by user id, which
 * is how listMembers pages). Every change of the member set is a single-partition
 * conditional batch `... IF version = <read>` that also rewrites member_count and
 * version: adds and removes are serialised per group by Paxos, the count always equals
 * the rows, and addMembers checks the limit against the count it conditions on, so
 * concurrent adds can never take a group past maxMembers and a refused add writes
 * nothing (all or none).
 *
 * `groups_by_user` is an index for groupsOf, written after the batch. A crash between
 * the two leaves the index behind; groupsOf therefore checks each entry against the
 * group partition (the authority) and repeating the call (addMembers, removeMembers,
 * setRole are idempotent) repairs it.
 */
export class CassandraGroupStore implements GroupStore {
  private readonly cql;
  private readonly consistency: ResolvedConsistency;
  private readonly groupLocks = new KeyedMutex();
  private closed = false;

  static async open(options: CassandraOptions): Promise<CassandraGroupStore> {
    return new CassandraGroupStore(await connectAndMigrate(options), options, true);
  }

  constructor(
    private readonly client: Client,
    options: Pick<CassandraOptions, "keyspace" | "consistency">,
    private readonly ownsClient = false,
  ) {
    this.consistency = resolveConsistency(options.consistency);
    const ks = checkedKeyspace(options.keyspace);
    this.cql = {
      createGroup: `INSERT INTO ${ks}.groups (group_id, name, created_by, created_at, member_count, version) VALUES (?, ?, ?, ?, ?, 1) IF NOT EXISTS`,
      insertMember: `INSERT INTO ${ks}.groups (group_id, user_id, role) VALUES (?, ?, ?)`,
      deleteMember: `DELETE FROM ${ks}.groups WHERE group_id = ? AND user_id = ?`,
      setCount: `UPDATE ${ks}.groups SET member_count = ?, version = ? WHERE group_id = ? IF version = ?`,
      setRole: `UPDATE ${ks}.groups SET role = ? WHERE group_id = ? AND user_id = ? IF EXISTS`,
      group: `SELECT name, created_by, created_at, member_count, version FROM ${ks}.groups WHERE group_id = ? LIMIT 1`,
      roles: `SELECT user_id, role FROM ${ks}.groups WHERE group_id = ? AND user_id IN ?`,
      role: `SELECT role FROM ${ks}.groups WHERE group_id = ? AND user_id = ?`,
      membersAfter: `SELECT user_id, role FROM ${ks}.groups WHERE group_id = ? AND user_id > ? LIMIT ?`,
      allMembers: `SELECT user_id, role FROM ${ks}.groups WHERE group_id = ?`,
      indexUser: `INSERT INTO ${ks}.groups_by_user (user_id, group_id, name, role) VALUES (?, ?, ?, ?)`,
      unindexUser: `DELETE FROM ${ks}.groups_by_user WHERE user_id = ? AND group_id = ?`,
      groupsOf: `SELECT group_id FROM ${ks}.groups_by_user WHERE user_id = ?`,
    };
  }

  async createGroup(group: NewGroup): Promise<void> {
    const members = uniqueMembers(group.members);
    const queries = [
      { query: this.cql.createGroup, params: [group.groupId, group.name, group.createdBy, group.createdAt, members.length] },
      ...members.map((m) => ({ query: this.cql.insertMember, params: [group.groupId, m.userId, m.role] })),
    ];
    const result = await retryTransient(() => this.batchLwt(queries));
    if (!result.wasApplied()) {
      // Applied by an attempt that timed out, or a genuine clash of ids.
      const existing = await this.getGroup(group.groupId);
      if (existing?.createdBy !== group.createdBy || existing.createdAt.getTime() !== group.createdAt.getTime()) {
        throw new Error(`group ${group.groupId} already exists`);
      }
    }
    await this.index(group.groupId, group.name, members);
  }

  async getGroup(groupId: GroupId): Promise<GroupRecord | null> {
    const row = (await this.execute(this.cql.group, [groupId], this.consistency.read)).rows[0];
    const name = row ? optionalTextOf(row, "name") : null;
    if (!row || name === null) return null;
    return {
      groupId,
      name,
      createdBy: textOf(row, "created_by"),
      createdAt: timestampOf(row, "created_at"),
      memberCount: intOf(row, "member_count"),
    };
  }

  async roleOf(groupId: GroupId, userId: UserId): Promise<GroupRole | null> {
    const row = (await this.execute(this.cql.role, [groupId, userId], this.consistency.read)).rows[0];
    return row ? (optionalTextOf(row, "role") as GroupRole | null) : null;
  }

  addMembers(groupId: GroupId, members: readonly GroupMember[], maxMembers: number): Promise<UserId[]> {
    const wanted = uniqueMembers(members);
    return this.groupLocks.run(groupId, () =>
      retryTransient(async () => {
        for (let attempt = 1; ; attempt++) {
          const state = await this.state(groupId);
          const existing = await this.roles(groupId, wanted.map((m) => m.userId));
          const added = wanted.filter((m) => !existing.has(m.userId));
          if (added.length > 0) {
            if (state.memberCount + added.length > maxMembers) throw new GroupFullError(groupId, maxMembers);
            const result = await this.batchLwt([
              { query: this.cql.setCount, params: [state.memberCount + added.length, state.version + 1, groupId, state.version] },
              ...added.map((m) => ({ query: this.cql.insertMember, params: [groupId, m.userId, m.role] })),
            ]);
            if (!result.wasApplied()) {
              if (attempt >= MAX_ATTEMPTS) throw new Error(`could not add members to ${groupId} after ${attempt} attempts`);
              continue; // the group changed since it was read
            }
          }
          // Index every requested member with the role they now have (repairs a crash).
          await this.index(groupId, state.name, [...existing.entries()].map(([userId, role]) => ({ userId, role })).concat(added));
          return added.map((m) => m.userId);
        }
      }),
    );
  }

  removeMembers(groupId: GroupId, userIds: readonly UserId[]): Promise<UserId[]> {
    const unique = [...new Set(userIds)];
    return this.groupLocks.run(groupId, () =>
      retryTransient(async () => {
        for (let attempt = 1; ; attempt++) {
          const state = await this.state(groupId);
          const existing = await this.roles(groupId, unique);
          const removed = unique.filter((userId) => existing.has(userId));
          if (removed.length > 0) {
            const result = await this.batchLwt([
              { query: this.cql.setCount, params: [state.memberCount - removed.length, state.version + 1, groupId, state.version] },
              ...removed.map((userId) => ({ query: this.cql.deleteMember, params: [groupId, userId] })),
            ]);
            if (!result.wasApplied()) {
              if (attempt >= MAX_ATTEMPTS) throw new Error(`could not remove members from ${groupId} after ${attempt} attempts`);
              continue;
            }
          }
          await Promise.all(unique.map((userId) => this.execute(this.cql.unindexUser, [userId, groupId], this.consistency.write)));
          return removed;
        }
      }),
    );
  }

  async setRole(groupId: GroupId, userId: UserId, role: GroupRole): Promise<void> {
    // IF EXISTS: a member removed meanwhile is not brought back as a row with a role only.
    const result = await retryTransient(() =>
      settleWithin(
        this.client.execute(this.cql.setRole, [role, groupId, userId], {
          prepare: true,
          consistency: this.consistency.write,
          serialConsistency: this.consistency.serial,
        }),
      ),
    );
    const group = await this.getGroup(groupId);
    if (result.wasApplied() && group) await this.execute(this.cql.indexUser, [userId, groupId, group.name, role], this.consistency.write);
  }

  async listMembers(groupId: GroupId, after: UserId | undefined, limit: number): Promise<Page<GroupMember>> {
    const result = await this.execute(this.cql.membersAfter, [groupId, after ?? "", limit + 1], this.consistency.read);
    const members = membersOf(result.rows);
    return { items: members.slice(0, limit), hasMore: members.length > limit };
  }

  async allMembers(groupId: GroupId): Promise<GroupMember[]> {
    const members: GroupMember[] = [];
    let pageState: string | undefined;
    do {
      const result = await settleWithin(
        this.client.execute(this.cql.allMembers, [groupId], {
          prepare: true,
          consistency: this.consistency.read,
          fetchSize: 1000,
          ...(pageState === undefined ? {} : { pageState }),
        }),
      );
      members.push(...membersOf(result.rows));
      pageState = result.pageState || undefined;
    } while (pageState !== undefined);
    return members;
  }

  async groupsOf(userId: UserId): Promise<{ groupId: GroupId; name: string; role: GroupRole }[]> {
    const result = await this.execute(this.cql.groupsOf, [userId], this.consistency.read);
    const groups = await Promise.all(
      result.rows.map(async (row) => {
        const groupId = textOf(row, "group_id");
        const [group, role] = await Promise.all([this.getGroup(groupId), this.roleOf(groupId, userId)]);
        return group && role ? { groupId, name: group.name, role } : null;
      }),
    );
    return groups.filter((g) => g !== null);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await this.client.shutdown();
  }

  /** The group's count and version, read through Paxos (what the next batch conditions on). */
  private async state(groupId: GroupId): Promise<{ name: string; memberCount: number; version: number }> {
    const row = (await this.execute(this.cql.group, [groupId], this.consistency.serial)).rows[0];
    const name = row ? optionalTextOf(row, "name") : null;
    if (!row || name === null) throw new Error(`group ${groupId} does not exist`);
    return { name, memberCount: intOf(row, "member_count"), version: bigintOf(row, "version") };
  }

  private async roles(groupId: GroupId, userIds: readonly UserId[]): Promise<Map<UserId, GroupRole>> {
    if (userIds.length === 0) return new Map();
    const result = await this.execute(this.cql.roles, [groupId, userIds], this.consistency.serial);
    return new Map(membersOf(result.rows).map((m) => [m.userId, m.role]));
  }

  private async index(groupId: GroupId, name: string, members: readonly GroupMember[]): Promise<void> {
    await Promise.all(members.map((m) => this.execute(this.cql.indexUser, [m.userId, groupId, name, m.role], this.consistency.write)));
  }

  private execute(query: string, params: unknown[], consistency: types.consistencies): Promise<types.ResultSet> {
    return settleWithin(this.client.execute(query, params, { prepare: true, consistency }));
  }

  private batchLwt(queries: { query: string; params: unknown[] }[]): Promise<types.ResultSet> {
    return settleWithin(this.client.batch(queries, { prepare: true, consistency: this.consistency.write, serialConsistency: this.consistency.serial }));
  }
}

const MAX_ATTEMPTS = 1000;

function uniqueMembers(members: readonly GroupMember[]): GroupMember[] {
  const seen = new Set<UserId>();
  return members.filter((m) => !seen.has(m.userId) && seen.add(m.userId));
}

function membersOf(rows: types.Row[]): GroupMember[] {
  const members: GroupMember[] = [];
  for (const row of rows) {
    const userId = optionalTextOf(row, "user_id");
    const role = optionalTextOf(row, "role");
    // A group without members still returns its static columns as a row without user_id.
    if (userId !== null && role !== null) members.push({ userId, role: role as GroupRole });
  }
  return members;
}
