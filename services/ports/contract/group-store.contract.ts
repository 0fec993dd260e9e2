import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { GroupId, UserId } from "../../protocol/ids.js";
import { GroupFullError, type GroupMember, type GroupStore, type NewGroup } from "../group-store.js";

export interface GroupStoreFixture {
  /** An empty store. */
  store: GroupStore;
  /** Opens another store on the same data, as a restarted process would. The test closes `store` first. */
  reopen: () => Promise<GroupStore>;
  /** Closes every store the fixture opened and removes their data. */
  cleanup: () => Promise<void>;
}

const GROUP: GroupId = "g01J0000000000000000000000A";
const OTHER: GroupId = "g01J0000000000000000000000B";
const UNKNOWN: GroupId = "g01J0000000000000000000000Z";
const CREATED_AT = new Date(Date.UTC(2030, 0, 1, 12, 30, 15, 123));

function newGroup(overrides: Partial<NewGroup> = {}): NewGroup {
  return {
    groupId: GROUP,
    name: "Climbing",
    createdBy: "alice",
    createdAt: CREATED_AT,
    members: [
      { userId: "alice", role: "owner" },
      { userId: "bob", role: "member" },
    ],
    ...overrides,
  };
}

function members(...userIds: UserId[]): GroupMember[] {
  return userIds.map((userId) => ({ userId, role: "member" }));
}

function byUser(list: readonly GroupMember[]): GroupMember[] {
  return [...list].sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
}

/**
 * The semantics every GroupStore adapter must have. An adapter's test file calls this
 * with a factory that returns a fresh, empty store for each test.
 */
export function describeGroupStoreContract(name: string, create: () => Promise<GroupStoreFixture>): void {
  describe(`GroupStore contract: ${name}`, () => {
    let fixture: GroupStoreFixture;
    let store: GroupStore;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    describe("createGroup and getGroup", () => {
      it("stores the group as created, counting its first members", async () => {
        await store.createGroup(newGroup());
        expect(await store.getGroup(GROUP)).toEqual({ groupId: GROUP, name: "Climbing", createdBy: "alice", createdAt: CREATED_AT, memberCount: 2 });
        expect(await store.roleOf(GROUP, "alice")).toBe("owner");
        expect(await store.roleOf(GROUP, "bob")).toBe("member");
      });

      it("knows nothing of a group never created", async () => {
        await store.createGroup(newGroup());
        expect(await store.getGroup(UNKNOWN)).toBeNull();
        expect(await store.roleOf(UNKNOWN, "alice")).toBeNull();
        expect(await store.roleOf(GROUP, "carol")).toBeNull();
        expect(await store.allMembers(UNKNOWN)).toEqual([]);
        expect(await store.listMembers(UNKNOWN, undefined, 10)).toEqual({ items: [], hasMore: false });
      });

      it("keeps groups apart", async () => {
        await store.createGroup(newGroup());
        await store.createGroup(newGroup({ groupId: OTHER, name: "Chess", createdBy: "carol", members: [{ userId: "carol", role: "owner" }] }));
        expect(await store.getGroup(OTHER)).toMatchObject({ name: "Chess", createdBy: "carol", memberCount: 1 });
        expect(await store.roleOf(OTHER, "alice")).toBeNull();
        expect(await store.allMembers(OTHER)).toEqual([{ userId: "carol", role: "owner" }]);
      });
    });

    describe("addMembers", () => {
      it("adds the members not yet in the group and resolves with them, leaving the others as they were", async () => {
        await store.createGroup(newGroup());
        const added = await store.addMembers(GROUP, [...members("carol", "bob", "dave"), { userId: "alice", role: "member" }], 10);
        expect(added).toEqual(["carol", "dave"]);
        expect(await store.roleOf(GROUP, "alice")).toBe("owner");
        expect(await store.roleOf(GROUP, "dave")).toBe("member");
        expect((await store.getGroup(GROUP))?.memberCount).toBe(4);
        expect(await store.addMembers(GROUP, members("carol"), 10)).toEqual([]);
        expect((await store.getGroup(GROUP))?.memberCount).toBe(4);
      });

      it("adds with the role given and counts a user named twice once", async () => {
        await store.createGroup(newGroup());
        expect(await store.addMembers(GROUP, [{ userId: "carol", role: "admin" }, ...members("carol")], 10)).toEqual(["carol"]);
        expect(await store.roleOf(GROUP, "carol")).toBe("admin");
        expect((await store.getGroup(GROUP))?.memberCount).toBe(3);
      });

      it("adds all or none: a group that would pass maxMembers gets nobody", async () => {
        await store.createGroup(newGroup());
        // Called from async functions, so an adapter that throws synchronously is still checked.
        const refused = (async () => store.addMembers(GROUP, members("carol", "dave", "erin"), 4))();
        await expect(refused).rejects.toThrow(GroupFullError);
        await expect(refused).rejects.toMatchObject({ groupId: GROUP, maxMembers: 4 });
        for (const userId of ["carol", "dave", "erin"]) expect(await store.roleOf(GROUP, userId)).toBeNull();
        expect((await store.getGroup(GROUP))?.memberCount).toBe(2);
        // Members already in the group do not count against the limit.
        expect(await store.addMembers(GROUP, members("bob", "carol", "dave"), 4)).toEqual(["carol", "dave"]);
        expect((await store.getGroup(GROUP))?.memberCount).toBe(4);
        await expect(async () => store.addMembers(GROUP, members("erin"), 4)).rejects.toThrow(GroupFullError);
      });

      it("never takes a group past maxMembers under concurrent adds", async () => {
        await store.createGroup(newGroup({ members: [{ userId: "owner", role: "owner" }] }));
        const batches = [members("a1", "a2"), members("b1", "b2"), members("c1", "c2"), members("d1", "d2")];
        const outcomes = await Promise.allSettled(batches.map(async (batch) => store.addMembers(GROUP, batch, 5)));
        const succeeded = outcomes.filter((o) => o.status === "fulfilled");
        const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
        expect(succeeded).toHaveLength(2);
        expect(refused).toHaveLength(2);
        for (const outcome of refused) expect(outcome.reason).toBeInstanceOf(GroupFullError);
        const all = await store.allMembers(GROUP);
        expect(all).toHaveLength(5);
        expect((await store.getGroup(GROUP))?.memberCount).toBe(5);
        // Whole batches only.
        const ids = new Set(all.map((m) => m.userId));
        for (const batch of batches) expect(batch.filter((m) => ids.has(m.userId)).length % 2).toBe(0);
      });

      it("adds a user once when concurrent calls add the same user", async () => {
        await store.createGroup(newGroup());
        const results = await Promise.all(Array.from({ length: 5 }, () => store.addMembers(GROUP, members("carol"), 10)));
        expect(results.flat()).toEqual(["carol"]);
        expect((await store.getGroup(GROUP))?.memberCount).toBe(3);
      });
    });

    describe("removeMembers", () => {
      it("removes the members named and resolves with those that were members", async () => {
        await store.createGroup(newGroup());
        await store.addMembers(GROUP, members("carol", "dave"), 10);
        expect(await store.removeMembers(GROUP, ["carol", "zed", "dave"])).toEqual(["carol", "dave"]);
        expect(await store.roleOf(GROUP, "carol")).toBeNull();
        expect((await store.getGroup(GROUP))?.memberCount).toBe(2);
        expect(await store.groupsOf("carol")).toEqual([]);
        expect(await store.removeMembers(GROUP, ["carol"])).toEqual([]);
        expect((await store.getGroup(GROUP))?.memberCount).toBe(2);
      });

      it("frees room for new members", async () => {
        await store.createGroup(newGroup());
        await store.removeMembers(GROUP, ["bob"]);
        expect(await store.addMembers(GROUP, members("carol"), 2)).toEqual(["carol"]);
        expect(byUser(await store.allMembers(GROUP))).toEqual([
          { userId: "alice", role: "owner" },
          { userId: "carol", role: "member" },
        ]);
      });
    });

    describe("setRole", () => {
      it("changes a member's role everywhere it is read", async () => {
        await store.createGroup(newGroup());
        await store.setRole(GROUP, "bob", "admin");
        expect(await store.roleOf(GROUP, "bob")).toBe("admin");
        expect((await store.listMembers(GROUP, undefined, 10)).items).toEqual([
          { userId: "alice", role: "owner" },
          { userId: "bob", role: "admin" },
        ]);
        expect(await store.groupsOf("bob")).toEqual([{ groupId: GROUP, name: "Climbing", role: "admin" }]);
        expect((await store.getGroup(GROUP))?.memberCount).toBe(2);
      });

      it("does not make a non-member a member", async () => {
        await store.createGroup(newGroup());
        await store.setRole(GROUP, "carol", "admin");
        expect(await store.roleOf(GROUP, "carol")).toBeNull();
        expect(await store.groupsOf("carol")).toEqual([]);
        expect((await store.getGroup(GROUP))?.memberCount).toBe(2);
      });
    });

    describe("reading members", () => {
      it("lists members by user id, `limit` at a time after `after`, saying whether more follow", async () => {
        await store.createGroup(newGroup());
        await store.addMembers(GROUP, members("erin", "carol", "dave"), 10);
        const first = await store.listMembers(GROUP, undefined, 2);
        expect(first).toEqual({
          items: [
            { userId: "alice", role: "owner" },
            { userId: "bob", role: "member" },
          ],
          hasMore: true,
        });
        const second = await store.listMembers(GROUP, "bob", 2);
        expect(second.items.map((m) => m.userId)).toEqual(["carol", "dave"]);
        expect(second.hasMore).toBe(true);
        expect(await store.listMembers(GROUP, "dave", 2)).toEqual({ items: [{ userId: "erin", role: "member" }], hasMore: false });
        expect(await store.listMembers(GROUP, "erin", 2)).toEqual({ items: [], hasMore: false });
        expect((await store.listMembers(GROUP, "carol", 2)).items.map((m) => m.userId)).toEqual(["dave", "erin"]);
      });

      it("returns every member for fan-out", async () => {
        await store.createGroup(newGroup());
        const many = Array.from({ length: 40 }, (_, i) => `user${String(i).padStart(2, "0")}`);
        await store.addMembers(GROUP, members(...many), 100);
        const all = await store.allMembers(GROUP);
        expect(byUser(all)).toEqual(byUser([{ userId: "alice", role: "owner" }, { userId: "bob", role: "member" }, ...members(...many)]));
      });

      it("shows every change of membership made after an earlier read of every member", async () => {
        await store.createGroup(newGroup());
        expect(byUser(await store.allMembers(GROUP))).toEqual([{ userId: "alice", role: "owner" }, ...members("bob")]);
        await store.removeMembers(GROUP, ["bob"]);
        expect(await store.allMembers(GROUP)).toEqual([{ userId: "alice", role: "owner" }]);
        await store.addMembers(GROUP, members("carol", "dave"), 10);
        expect(byUser(await store.allMembers(GROUP))).toEqual([{ userId: "alice", role: "owner" }, ...members("carol", "dave")]);
        await store.setRole(GROUP, "carol", "admin");
        expect(byUser(await store.allMembers(GROUP))).toEqual([
          { userId: "alice", role: "owner" },
          { userId: "carol", role: "admin" },
          { userId: "dave", role: "member" },
        ]);
        // A refused add changes nothing.
        await expect(async () => store.addMembers(GROUP, members("erin"), 3)).rejects.toThrow(GroupFullError);
        expect((await store.allMembers(GROUP)).map((m) => m.userId).sort()).toEqual(["alice", "carol", "dave"]);
        await store.removeMembers(GROUP, ["carol", "dave"]);
        expect(await store.allMembers(GROUP)).toEqual([{ userId: "alice", role: "owner" }]);
      });

      it("lists a user's groups with their names and the user's role", async () => {
        await store.createGroup(newGroup());
        await store.createGroup(newGroup({ groupId: OTHER, name: "Chess", createdBy: "bob", members: [{ userId: "bob", role: "owner" }] }));
        const bobs = await store.groupsOf("bob");
        expect([...bobs].sort((a, b) => a.groupId.localeCompare(b.groupId))).toEqual([
          { groupId: GROUP, name: "Climbing", role: "member" },
          { groupId: OTHER, name: "Chess", role: "owner" },
        ]);
        expect(await store.groupsOf("alice")).toEqual([{ groupId: GROUP, name: "Climbing", role: "owner" }]);
        expect(await store.groupsOf("nobody")).toEqual([]);
      });
    });

    describe("durability", () => {
      it("keeps groups, members and roles across a reopen", async () => {
        await store.createGroup(newGroup());
        await store.addMembers(GROUP, [{ userId: "carol", role: "admin" }], 10);
        await store.removeMembers(GROUP, ["bob"]);
        await store.close();
        const reopened = await fixture.reopen();
        store = reopened;
        expect(await reopened.getGroup(GROUP)).toEqual({ groupId: GROUP, name: "Climbing", createdBy: "alice", createdAt: CREATED_AT, memberCount: 2 });
        expect(byUser(await reopened.allMembers(GROUP))).toEqual([
          { userId: "alice", role: "owner" },
          { userId: "carol", role: "admin" },
        ]);
        expect(await reopened.groupsOf("carol")).toEqual([{ groupId: GROUP, name: "Climbing", role: "admin" }]);
        await expect(async () => reopened.addMembers(GROUP, members("dave"), 2)).rejects.toThrow(GroupFullError);
      });
    });
  });
}
