import type { ArrayOrObject, Client, QueryOptions, types } from "cassandra-driver";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { describeMessageStoreContract } from "../../ports/contract/message-store.contract.js";
import type { MessageStore, NewDirectMessage, NewReceipt } from "../../ports/message-store.js";
import type { InboxEvent, Message } from "../../protocol/frames.js";
import { directConversationId, type UserId } from "../../protocol/ids.js";
import type { CassandraOptions } from "./cassandra-options.js";
import { CassandraMessageStore } from "./cassandra-message-store.js";
import { connectTestClient, dropKeyspace, testCassandraOptions } from "./testing/test-keyspace.js";

let admin: Client;
beforeAll(async () => {
  admin = await connectTestClient();
});
afterAll(async () => {
  await admin.shutdown();
});

describeMessageStoreContract("CassandraMessageStore", async () => {
  // Each test gets a keyspace of its own; `reopen` is a new store (and client) on it.
  const options = testCassandraOptions("messages");
  const opened: MessageStore[] = [await CassandraMessageStore.open(options)];
  return {
    store: opened[0] as MessageStore,
    reopen: async () => {
      const store = await CassandraMessageStore.open(options);
      opened.push(store);
      return store;
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()));
      await dropKeyspace(admin, options.keyspace);
    },
  };
});

const T0 = Date.UTC(2030, 0, 1);

function direct(senderId: UserId, recipientId: UserId, text: string): NewDirectMessage {
  return { senderId, senderDeviceId: `${senderId}-phone`, recipientId, clientMessageId: `${senderId}:${text}`, body: { text }, sentAt: new Date(T0) };
}

function readReceipt(conversationId: string, userId: UserId, upToSeq: number): NewReceipt {
  return { conversationId, userId, kind: "read", upToSeq, at: new Date(T0 + 1000) };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

type CrashMode = "before" | "after";

/**
 * A crash-point sweep runs a send (or receipt) once per statement per crash case: about
 * 20 s alone, over 30 s (the default limit) on the loaded 2-core machine.
 */
const CRASH_SWEEP_TIMEOUT_MS = 120_000;

/**
 * A driver client that stops working after `budget` statements, like a process that dies
 * mid-append: with "before", statement budget+1 never reaches Cassandra; with "after", it
 * is applied but its answer is lost (a timeout with an unknown outcome, then death).
 */
function crashingClient(client: Client, budget: number, mode: CrashMode): Client {
  let left = budget;
  const execute = async (query: string, params?: ArrayOrObject, options?: QueryOptions): Promise<types.ResultSet> => {
    left -= 1;
    if (left < 0 && (mode === "before" || left < -1)) throw new Error("simulated crash");
    const result = await client.execute(query, params, options);
    if (left < 0) throw new Error("simulated crash after the statement was applied");
    return result;
  };
  return new Proxy(client, {
    get(target, property, receiver): unknown {
      return property === "execute" ? execute : Reflect.get(target, property, receiver);
    },
  });
}

/** A client that counts the statements run through it. */
function countingClient(client: Client): { client: Client; count: () => number } {
  let count = 0;
  const execute = (query: string, params?: ArrayOrObject, options?: QueryOptions): Promise<types.ResultSet> => {
    count += 1;
    return client.execute(query, params, options);
  };
  const proxy = new Proxy(client, {
    get(target, property, receiver): unknown {
      return property === "execute" ? execute : Reflect.get(target, property, receiver);
    },
  });
  return { client: proxy, count: () => count };
}

async function wholeInbox(store: MessageStore, userId: UserId): Promise<InboxEvent[]> {
  const page = await store.readInbox(userId, 0, 10_000);
  expect(page.hasMore).toBe(false);
  return page.items;
}

/** What every inbox and conversation must look like whatever crashed: no gaps, no repeats, seq order. */
async function expectConsistent(store: MessageStore, users: UserId[], conversationId: string, texts: string[]): Promise<Message[]> {
  const history = (await store.readConversation(conversationId, { after: 0 }, 1000)).items;
  expect(history.map((m) => m.seq)).toEqual(range(1, texts.length));
  expect(history.map((m) => m.body.text).sort()).toEqual([...texts].sort());
  for (const user of users) {
    const inbox = await wholeInbox(store, user);
    expect(inbox.map((e) => e.cursor)).toEqual(range(1, inbox.length));
    const messages = inbox.flatMap((e) => (e.type === "message" && e.message.conversationId === conversationId ? [e.message] : []));
    expect(messages).toEqual(history);
    const receipts = inbox.flatMap((e) =>
      e.type === "receipt" && e.receipt.conversationId === conversationId ? [`${e.receipt.userId}:${e.receipt.kind}:${e.receipt.upToSeq}`] : [],
    );
    expect(new Set(receipts).size).toBe(receipts.length);
  }
  return history;
}

/** Appends an unrelated event (a membership change) to each inbox. */
async function displaceHeads(store: MessageStore, users: UserId[]): Promise<void> {
  for (const user of users) {
    await store.appendMembershipChange(user, { groupId: "g01J0000000000000000000000A", change: "added", role: "member", by: "admin", at: new Date(T0).toISOString() });
  }
}

describe("CassandraMessageStore across processes", () => {
  let options: CassandraOptions;
  const stores: CassandraMessageStore[] = [];
  const clients: Client[] = [];

  beforeEach(() => {
    options = testCassandraOptions("messages_x");
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await Promise.all(clients.splice(0).map((c) => c.shutdown()));
    await dropKeyspace(admin, options.keyspace);
  });

  /** Where a crash happens (see crashingClient) and who recovers: the same process or a new one. */
  const crashCases = [
    ["before", "same"],
    ["after", "same"],
    ["before", "new"],
    ["after", "new"],
  ] as const;
  let sharedClient: Client;

  beforeAll(async () => {
    sharedClient = await connectTestClient();
  });

  afterAll(async () => {
    await sharedClient.shutdown();
  });

  async function open(): Promise<CassandraMessageStore> {
    const store = await CassandraMessageStore.open(options);
    stores.push(store);
    return store;
  }

  /** A store on a client the test controls (each one a separate connection: another process). */
  async function openOn(wrap: (client: Client) => Client): Promise<CassandraMessageStore> {
    const client = await connectTestClient();
    clients.push(client);
    const store = new CassandraMessageStore(wrap(client), { keyspace: options.keyspace });
    stores.push(store);
    return store;
  }

  it("gives concurrent appends from several processes contiguous seqs and ordered, gap-free inboxes", async () => {
    const processes = [await open(), await open(), await open()];
    const sends = processes.flatMap((store, p) =>
      range(1, 15).flatMap((i) => [
        () => store.appendDirectMessage(direct(i % 2 === 0 ? "alice" : "bob", i % 2 === 0 ? "bob" : "alice", `p${p}-m${i}`)),
        // Another conversation sharing alice's inbox.
        () => store.appendDirectMessage(direct("carol", "alice", `p${p}-c${i}`)),
      ]),
    );
    const results = await Promise.all(sends.map((send) => send()));
    expect(results.every((r) => !r.duplicate)).toBe(true);
    const reader = processes[0] as MessageStore;
    const aliceBob = await expectConsistent(
      reader,
      ["alice", "bob"],
      directConversationId("alice", "bob"),
      processes.flatMap((_, p) => range(1, 15).map((i) => `p${p}-m${i}`)),
    );
    expect(aliceBob).toHaveLength(45);
    const aliceCarol = await expectConsistent(
      reader,
      ["carol"],
      directConversationId("alice", "carol"),
      processes.flatMap((_, p) => range(1, 15).map((i) => `p${p}-c${i}`)),
    );
    expect(aliceCarol).toHaveLength(45);
    // alice's inbox holds both conversations, each in its own seq order.
    const aliceInbox = await wholeInbox(reader, "alice");
    expect(aliceInbox.map((e) => e.cursor)).toEqual(range(1, 90));
    for (const conversation of [aliceBob, aliceCarol]) {
      const seqs = aliceInbox.flatMap((e) => (e.type === "message" && e.message.conversationId === conversation[0]?.conversationId ? [e.message.seq] : []));
      expect(seqs).toEqual(range(1, 45));
    }
  });

  it("stores one send retried concurrently by several processes once", async () => {
    const processes = [await open(), await open(), await open()];
    const results = await Promise.all(processes.flatMap((store) => [1, 2, 3].map(() => store.appendDirectMessage(direct("alice", "bob", "once")))));
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(results.map((r) => r.message.messageId)).size).toBe(1);
    expect(results.find((r) => !r.duplicate)?.events.map((e) => e.event.cursor)).toEqual([1, 1]);
    await expectConsistent(processes[0] as MessageStore, ["alice", "bob"], directConversationId("alice", "bob"), ["once"]);
  });

  it("completes a send interrupted at any step, once, when it is retried by another process", async () => {
    const healthy = await open();
    // How many statements a send takes when everything works (the crash points to try).
    const counting = countingClient(await connectTestClient());
    clients.push(counting.client);
    const probe = new CassandraMessageStore(counting.client, { keyspace: options.keyspace });
    await healthy.appendDirectMessage(direct("x", "y", "m1"));
    await probe.appendDirectMessage(direct("x", "y", "m2"));
    const steps = counting.count();
    expect(steps).toBeGreaterThan(10);

    for (const [mode, recoverer] of crashCases) {
      for (let budget = 0; budget < steps; budget++) {
        const [a, b] = [`a${mode}${recoverer}${budget}`, `b${mode}${recoverer}${budget}`];
        await healthy.appendDirectMessage(direct(a, b, "m1"));
        const crashing = await openOn((client) => crashingClient(client, budget, mode));
        await expect(crashing.appendDirectMessage(direct(a, b, "m2"))).rejects.toThrow(/simulated crash/);
        // Other events reach both inboxes first (pushing the crashed writer's event, if it
        // got that far, out of the inbox head)...
        await displaceHeads(healthy, [a, b]);
        // ...then someone else writes to the conversation, and the sender's client retries,
        // through this process or one that knows nothing yet (no cached heads or seqs).
        const recovering = recoverer === "same" ? healthy : new CassandraMessageStore(sharedClient, { keyspace: options.keyspace });
        const reply = await recovering.appendDirectMessage(direct(b, a, "m3"));
        const retry = await recovering.appendDirectMessage(direct(a, b, "m2"));
        expect(reply.duplicate).toBe(false);
        expect(retry.message).toMatchObject({ senderId: a, body: { text: "m2" } });
        const history = await expectConsistent(healthy, [a, b], directConversationId(a, b), ["m1", "m2", "m3"]);
        expect(history.find((m) => m.body.text === "m2")).toEqual(retry.message);
        // The retry stays a retry.
        expect((await healthy.appendDirectMessage(direct(a, b, "m2"))).duplicate).toBe(true);
      }
    }
  }, CRASH_SWEEP_TIMEOUT_MS);

  it("finishes a receipt interrupted at any step before recording the next one", async () => {
    const healthy = await open();
    const counting = countingClient(await connectTestClient());
    clients.push(counting.client);
    const probe = new CassandraMessageStore(counting.client, { keyspace: options.keyspace });
    for (const text of ["m1", "m2", "m3"]) await healthy.appendDirectMessage(direct("x", "y", text));
    await probe.recordReceipt(readReceipt(directConversationId("x", "y"), "y", 2));
    const steps = counting.count();

    for (const [mode, recoverer] of crashCases) {
      for (let budget = 0; budget < steps; budget++) {
        const [a, b] = [`a${mode}${recoverer}${budget}`, `b${mode}${recoverer}${budget}`];
        const conversation = directConversationId(a, b);
        for (const text of ["m1", "m2", "m3"]) await healthy.appendDirectMessage(direct(a, b, text));
        const crashing = await openOn((client) => crashingClient(client, budget, mode));
        await expect(crashing.recordReceipt(readReceipt(conversation, b, 2))).rejects.toThrow(/simulated crash/);
        await displaceHeads(healthy, [a, b]);
        const recovering = recoverer === "same" ? healthy : new CassandraMessageStore(sharedClient, { keyspace: options.keyspace });
        const later = await recovering.recordReceipt(readReceipt(conversation, b, 3));
        expect(later?.changed).toBe(true);
        expect((await healthy.recordReceipt(readReceipt(conversation, b, 2)))?.changed).toBe(false);
        await expectConsistent(healthy, [a, b], conversation, ["m1", "m2", "m3"]);
        for (const user of [a, b]) {
          const marks = (await wholeInbox(healthy, user)).flatMap((e) => (e.type === "receipt" ? [e.receipt.upToSeq] : []));
          // The interrupted receipt is announced (before the later one) or not at all.
          expect([[3], [2, 3]]).toContainEqual(marks);
        }
        expect((await healthy.conversationStates(b, [conversation])).get(conversation)).toEqual({ lastSeq: 3, readSeq: 3 });
      }
    }
  }, CRASH_SWEEP_TIMEOUT_MS);
});
