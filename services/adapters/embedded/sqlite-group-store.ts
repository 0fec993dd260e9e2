import { openSqlite, settle, prepare, transaction, type Sqlite } from "./sqlite.js";
import type { GroupRole } from "../../protocol/frames.js";
import type { GroupId, UserId } from "../../protocol/ids.js";
import { GroupFullError, type GroupMember, type GroupRecord, type GroupStore, type NewGroup } from "../../ports/group-store.js";
import type { Page } from "../../ports/message-store.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS groups (
  group_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  member_count INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_members (
  group_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role TEXT NOT NULL,
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_members_by_user ON group_members (user_id, group_id);
`;

/**
 * Member entries the store keeps in memory, over all groups: the lists of the groups
 * fanned out most recently, so that a 10,000-member group is not read from SQLite for
 * every message (bounded, since every group's list would be every membership).
 */
export const CACHED_MEMBERS_LIMIT = 100_000;

/**
 * The embedded group store: two SQLite tables, written with synchronous=FULL.
 *
 * `allMembers` answers from memory once a group's list has been read: one process owns
 * the data file (`parley dev`; a reopen closes the store first), every change of
 * membership or role goes through this object and drops the group's list before it
 * resolves, so a list read later never shows a removed member. The production store
 * (Cassandra) is shared by several groups replicas and keeps no such list.
 */
export class SqliteGroupStore implements GroupStore {
  private readonly db: Sqlite;
  private readonly statements;
  /** Each group's members as last read, least recently used first. */
  private readonly memberLists = new Map<GroupId, readonly GroupMember[]>();
  private cachedMembers = 0;

  constructor(path: string) {
    this.db = openSqlite(path);
    this.db.exec(SCHEMA);
    this.statements = {
      insertGroup: prepare(this.db, "INSERT INTO groups (group_id, name, created_by, created_at, member_count) VALUES (?, ?, ?, ?, 0)"),
      getGroup: prepare<[string], { group_id: string; name: string; created_by: string; created_at: string; member_count: number }>(this.db,
        "SELECT * FROM groups WHERE group_id = ?",
      ),
      setCount: prepare(this.db, "UPDATE groups SET member_count = ? WHERE group_id = ?"),
      roleOf: prepare<[string, string], { role: GroupRole }>(this.db, "SELECT role FROM group_members WHERE group_id = ? AND user_id = ?"),
      insertMember: prepare(this.db, "INSERT INTO group_members (group_id, user_id, role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
      deleteMember: prepare(this.db, "DELETE FROM group_members WHERE group_id = ? AND user_id = ?"),
      setRole: prepare(this.db, "UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?"),
      listMembers: prepare<[string, string, number], GroupMember & { user_id: string }>(this.db,
        "SELECT user_id, role FROM group_members WHERE group_id = ? AND user_id > ? ORDER BY user_id LIMIT ?",
      ),
      allMembers: prepare<[string], { user_id: string; role: GroupRole }>(this.db, "SELECT user_id, role FROM group_members WHERE group_id = ?"),
      groupsOf: prepare<[string], { group_id: string; name: string; role: GroupRole }>(this.db,
        "SELECT m.group_id, g.name, m.role FROM group_members m JOIN groups g ON g.group_id = m.group_id WHERE m.user_id = ? ORDER BY m.group_id",
      ),
    };
  }

  createGroup(group: NewGroup): Promise<void> {
    this.forgetMembers(group.groupId);
    return settle(() => {
      transaction(this.db, () => {
        this.statements.insertGroup.run(group.groupId, group.name, group.createdBy, group.createdAt.toISOString());
        let count = 0;
        for (const member of group.members) count += this.statements.insertMember.run(group.groupId, member.userId, member.role).changes;
        this.statements.setCount.run(count, group.groupId);
      })();
    });
  }

  getGroup(groupId: GroupId): Promise<GroupRecord | null> {
    const row = this.statements.getGroup.get(groupId);
    return Promise.resolve(
      row ? { groupId: row.group_id, name: row.name, createdBy: row.created_by, createdAt: new Date(row.created_at), memberCount: row.member_count } : null,
    );
  }

  roleOf(groupId: GroupId, userId: UserId): Promise<GroupRole | null> {
    return Promise.resolve(this.statements.roleOf.get(groupId, userId)?.role ?? null);
  }

  addMembers(groupId: GroupId, members: readonly GroupMember[], maxMembers: number): Promise<UserId[]> {
    this.forgetMembers(groupId);
    return settle(
      transaction(this.db, (): UserId[] => {
        const count = this.statements.getGroup.get(groupId)?.member_count ?? 0;
        const added = members.filter((m) => this.statements.insertMember.run(groupId, m.userId, m.role).changes > 0).map((m) => m.userId);
        if (count + added.length > maxMembers) throw new GroupFullError(groupId, maxMembers);
        this.statements.setCount.run(count + added.length, groupId);
        return added;
      }),
    );
  }

  removeMembers(groupId: GroupId, userIds: readonly UserId[]): Promise<UserId[]> {
    this.forgetMembers(groupId);
    return settle(
      transaction(this.db, (): UserId[] => {
        const removed = userIds.filter((userId) => this.statements.deleteMember.run(groupId, userId).changes > 0);
        const count = this.statements.getGroup.get(groupId)?.member_count ?? 0;
        this.statements.setCount.run(count - removed.length, groupId);
        return removed;
      }),
    );
  }

  setRole(groupId: GroupId, userId: UserId, role: GroupRole): Promise<void> {
    this.forgetMembers(groupId);
    this.statements.setRole.run(role, groupId, userId);
    return Promise.resolve();
  }

  listMembers(groupId: GroupId, after: UserId | undefined, limit: number): Promise<Page<GroupMember>> {
    const rows = this.statements.listMembers.all(groupId, after ?? "", limit + 1);
    return Promise.resolve({ items: rows.slice(0, limit).map((r) => ({ userId: r.user_id, role: r.role })), hasMore: rows.length > limit });
  }

  allMembers(groupId: GroupId): Promise<readonly GroupMember[]> {
    const cached = this.memberLists.get(groupId);
    if (cached !== undefined) {
      // Moved to the end: most recently used.
      this.memberLists.delete(groupId);
      this.memberLists.set(groupId, cached);
      return Promise.resolve(cached);
    }
    // Frozen: every caller shares the one list.
    const members = Object.freeze(this.statements.allMembers.all(groupId).map((r) => Object.freeze({ userId: r.user_id, role: r.role })));
    this.remember(groupId, members);
    return Promise.resolve(members);
  }

  groupsOf(userId: UserId): Promise<{ groupId: GroupId; name: string; role: GroupRole }[]> {
    return Promise.resolve(this.statements.groupsOf.all(userId).map((r) => ({ groupId: r.group_id, name: r.name, role: r.role })));
  }

  /** Called before every write, all synchronous: no read can come between the write and the drop. */
  private forgetMembers(groupId: GroupId): void {
    const members = this.memberLists.get(groupId);
    if (members === undefined) return;
    this.memberLists.delete(groupId);
    this.cachedMembers -= members.length;
  }

  private remember(groupId: GroupId, members: readonly GroupMember[]): void {
    if (members.length === 0 || members.length > CACHED_MEMBERS_LIMIT) return;
    this.memberLists.set(groupId, members);
    this.cachedMembers += members.length;
    for (const [oldest, list] of this.memberLists) {
      if (this.cachedMembers <= CACHED_MEMBERS_LIMIT) break;
      this.memberLists.delete(oldest);
      this.cachedMembers -= list.length;
    }
  }

  close(): Promise<void> {
    this.memberLists.clear();
    this.cachedMembers = 0;
    if (this.db.isOpen) this.db.close();
    return Promise.resolve();
  }
}

