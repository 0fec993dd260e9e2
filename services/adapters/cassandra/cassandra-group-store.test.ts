import type { Client } from "cassandra-driver";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { describeGroupStoreContract } from "../../ports/contract/group-store.contract.js";
import { GroupFullError, type GroupStore } from "../../ports/group-store.js";
import type { GroupId } from "../../protocol/ids.js";
import type { CassandraOptions } from "./cassandra-options.js";
import { CassandraGroupStore } from "./cassandra-group-store.js";
import { connectTestClient, dropKeyspace, testCassandraOptions } from "./testing/test-keyspace.js";

let admin: Client;
beforeAll(async () => {
  admin = await connectTestClient();
});
afterAll(async () => {
  await admin.shutdown();
});

describeGroupStoreContract("CassandraGroupStore", async () => {
  // Each test gets a keyspace of its own; `reopen` is a new store (and client) on it.
  const options = testCassandraOptions("groups");
  const opened: GroupStore[] = [await CassandraGroupStore.open(options)];
  return {
    store: opened[0] as GroupStore,
    reopen: async () => {
      const store = await CassandraGroupStore.open(options);
      opened.push(store);
      return store;
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()));
      await dropKeyspace(admin, options.keyspace);
    },
  };
});

describe("CassandraGroupStore across processes", () => {
  let options: CassandraOptions;
  const stores: GroupStore[] = [];

  beforeEach(() => {
    options = testCassandraOptions("groups_x");
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await dropKeyspace(admin, options.keyspace);
  });

  async function processes(count: number): Promise<GroupStore[]> {
    for (let i = 0; i < count; i++) stores.push(await CassandraGroupStore.open(options));
    return stores.slice(0, count);
  }

  it("never takes a group past maxMembers when processes add at once, and keeps the count equal to the members", async () => {
    const [first, ...others] = await processes(4);
    const group: GroupId = "g01J0000000000000000000000A";
    await first?.createGroup({ groupId: group, name: "g", createdBy: "owner", createdAt: new Date(), members: [{ userId: "owner", role: "owner" }] });
    const adds = [first, ...others].flatMap((store, p) =>
      range(1, 5).map(async (i) => store?.addMembers(group, [`p${p}u${i}a`, `p${p}u${i}b`].map((userId) => ({ userId, role: "member" as const })), 21)),
    );
    const outcomes = await Promise.allSettled(adds);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(10);
    for (const o of outcomes) if (o.status === "rejected") expect(o.reason).toBeInstanceOf(GroupFullError);
    // Removals and re-adds from every process at once.
    const members = (await first?.allMembers(group)) ?? [];
    const removable = members.filter((m) => m.role === "member").map((m) => m.userId);
    await Promise.all(
      removable.map(async (userId, i) => {
        const store = stores[i % stores.length] as GroupStore;
        await store.removeMembers(group, [userId]);
        if (i % 2 === 0) await store.addMembers(group, [{ userId: `again${i}`, role: "member" }], 21);
      }),
    );
    const after = (await first?.allMembers(group)) ?? [];
    expect(after).toHaveLength(1 + Math.ceil(removable.length / 2));
    expect((await first?.getGroup(group))?.memberCount).toBe(after.length);
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
