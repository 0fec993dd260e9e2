import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { directConversationId, groupConversationId, type GroupId, type UserId } from "../../protocol/ids.js";
import type { GroupMembershipChange, InboxEvent, Message } from "../../protocol/frames.js";
import {
  ClientMessageIdConflictError,
  type AppendedMessage,
  type MessageStore,
  type NewDirectMessage,
  type NewGroupMessage,
  type NewReceipt,
} from "../message-store.js";

export interface MessageStoreFixture {
  /** An empty store. */
  store: MessageStore;
  /**
   * Opens another store on the same data, as a restarted process would. The test closes
   * `store` first. Every MessageStore is durable, so every adapter can do this.
   */
  reopen: () => Promise<MessageStore>;
  /** Closes every store the fixture opened and removes their data. */
  cleanup: () => Promise<void>;
}

const ALICE = "alice";
const BOB = "bob";
const CAROL = "carol";
const ALICE_BOB = directConversationId(ALICE, BOB);
const T0 = Date.UTC(2030, 0, 1);

function direct(senderId: UserId, recipientId: UserId, text: string, overrides: Partial<NewDirectMessage> = {}): NewDirectMessage {
  return {
    senderId,
    senderDeviceId: `${senderId}-phone`,
    recipientId,
    clientMessageId: `${senderId}:${text}`,
    body: { text },
    sentAt: new Date(T0),
    ...overrides,
  };
}

const GROUP: GroupId = "g01J0000000000000000000000A";
const OTHER_GROUP: GroupId = "g01J0000000000000000000000B";
const GROUP_CONVERSATION = groupConversationId(GROUP);

function groupMessage(senderId: UserId, text: string, overrides: Partial<NewGroupMessage> = {}): NewGroupMessage {
  return {
    groupId: GROUP,
    senderId,
    senderDeviceId: `${senderId}-phone`,
    clientMessageId: `${senderId}:${text}`,
    body: { text },
    sentAt: new Date(T0),
    ...overrides,
  };
}

function receipt(userId: UserId, kind: NewReceipt["kind"], upToSeq: number, conversationId = ALICE_BOB): NewReceipt {
  return { conversationId, userId, kind, upToSeq, at: new Date(T0 + 60_000) };
}

async function readWholeInbox(store: MessageStore, userId: UserId): Promise<InboxEvent[]> {
  const page = await store.readInbox(userId, 0, 10_000);
  expect(page.hasMore).toBe(false);
  return page.items;
}

function cursorsOf(events: readonly InboxEvent[]): number[] {
  return events.map((e) => e.cursor);
}

function seqsOf(messages: readonly Message[]): number[] {
  return messages.map((m) => m.seq);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * The semantics every MessageStore adapter must have. An adapter's test file calls this
 * with a factory that returns a fresh, empty store for each test.
 */
export function describeMessageStoreContract(name: string, create: () => Promise<MessageStoreFixture>): void {
  describe(`MessageStore contract: ${name}`, () => {
    let fixture: MessageStoreFixture;
    let store: MessageStore;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    async function sendAll(inputs: readonly NewDirectMessage[]): Promise<AppendedMessage[]> {
      const results: AppendedMessage[] = [];
      for (const input of inputs) results.push(await store.appendDirectMessage(input));
      return results;
    }

    describe("appendDirectMessage", () => {
      it("stores the message as sent and numbers a conversation 1, 2, 3 whoever sends", async () => {
        const sentAt = new Date(T0 + 1234);
        const first = await store.appendDirectMessage(direct(ALICE, BOB, "hi", { sentAt }));
        expect(first.duplicate).toBe(false);
        expect(first.message).toEqual({
          messageId: expect.any(String) as string,
          conversationId: "dm:alice:bob",
          seq: 1,
          senderId: ALICE,
          senderDeviceId: "alice-phone",
          recipientId: BOB,
          clientMessageId: "alice:hi",
          body: { text: "hi" },
          sentAt: sentAt.toISOString(),
        });
        const rest = await sendAll([direct(BOB, ALICE, "hello"), direct(ALICE, BOB, "how are you")]);
        expect(rest.map((r) => [r.message.conversationId, r.message.seq])).toEqual([
          [ALICE_BOB, 2],
          [ALICE_BOB, 3],
        ]);
        expect(new Set([first, ...rest].map((r) => r.message.messageId)).size).toBe(3);
      });

      it("numbers each conversation on its own", async () => {
        await sendAll([direct(ALICE, BOB, "1"), direct(ALICE, BOB, "2")]);
        const toCarol = await store.appendDirectMessage(direct(ALICE, CAROL, "c1"));
        expect(toCarol.message).toMatchObject({ conversationId: "dm:alice:carol", seq: 1 });
        const third = await store.appendDirectMessage(direct(BOB, ALICE, "3"));
        expect(third.message.seq).toBe(3);
      });

      it("appends one event to each participant's inbox, with cursors counting from 1", async () => {
        const results = await sendAll([direct(ALICE, BOB, "1"), direct(BOB, ALICE, "2"), direct(ALICE, BOB, "3")]);
        for (const [i, result] of results.entries()) {
          expect(result.events).toHaveLength(2);
          expect(result.events.map((e) => e.userId).sort()).toEqual([ALICE, BOB]);
          for (const appended of result.events) {
            expect(appended.event).toEqual({ cursor: i + 1, type: "message", message: result.message });
          }
        }
        for (const user of [ALICE, BOB]) {
          const inbox = await readWholeInbox(store, user);
          expect(cursorsOf(inbox)).toEqual([1, 2, 3]);
          expect(inbox).toEqual(results.map((r) => r.events.find((e) => e.userId === user)?.event));
        }
      });

      it("keeps a cursor sequence per user", async () => {
        await sendAll([direct(ALICE, BOB, "1"), direct(ALICE, BOB, "2")]);
        const toCarol = await store.appendDirectMessage(direct(ALICE, CAROL, "3"));
        expect(toCarol.events.map((e) => [e.userId, e.event.cursor]).sort()).toEqual([
          [ALICE, 3],
          [CAROL, 1],
        ]);
        expect(cursorsOf(await readWholeInbox(store, BOB))).toEqual([1, 2]);
        expect(cursorsOf(await readWholeInbox(store, CAROL))).toEqual([1]);
      });

      it("appends a single event for a note to self", async () => {
        const result = await store.appendDirectMessage(direct(ALICE, ALICE, "remember milk"));
        expect(result.message).toMatchObject({ conversationId: "dm:alice:alice", seq: 1, senderId: ALICE, recipientId: ALICE });
        expect(result.events).toEqual([{ userId: ALICE, event: { cursor: 1, type: "message", message: result.message } }]);
        expect(await readWholeInbox(store, ALICE)).toEqual([result.events[0]?.event]);
      });

      it("returns the stored message for a retried send and appends nothing", async () => {
        const original = await store.appendDirectMessage(direct(ALICE, BOB, "hi"));
        const inboxBefore = await readWholeInbox(store, BOB);
        const retry = await store.appendDirectMessage(
          direct(ALICE, BOB, "hi", { sentAt: new Date(T0 + 5_000), senderDeviceId: "alice-laptop" }),
        );
        expect(retry).toEqual({ message: original.message, duplicate: true, events: [] });
        expect(await readWholeInbox(store, BOB)).toEqual(inboxBefore);
        expect(await readWholeInbox(store, ALICE)).toHaveLength(1);
        expect(seqsOf((await store.readConversation(ALICE_BOB, {}, 10)).items)).toEqual([1]);
        const next = await store.appendDirectMessage(direct(ALICE, BOB, "next"));
        expect(next.message.seq).toBe(2);
        expect(next.events.map((e) => e.event.cursor)).toEqual([2, 2]);
      });

      it("refuses a reused clientMessageId with another body or recipient, appending nothing", async () => {
        await store.appendDirectMessage(direct(ALICE, BOB, "hi", { clientMessageId: "c1" }));
        // Wrapped in async functions, so an adapter that throws synchronously is still checked.
        await expect(async () => store.appendDirectMessage(direct(ALICE, BOB, "bye", { clientMessageId: "c1" }))).rejects.toThrow(
          ClientMessageIdConflictError,
        );
        await expect(async () => store.appendDirectMessage(direct(ALICE, CAROL, "hi", { clientMessageId: "c1" }))).rejects.toThrow(
          ClientMessageIdConflictError,
        );
        expect(await readWholeInbox(store, ALICE)).toHaveLength(1);
        expect(await readWholeInbox(store, BOB)).toHaveLength(1);
        expect(await readWholeInbox(store, CAROL)).toEqual([]);
        expect((await store.readConversation(ALICE_BOB, {}, 10)).items.map((m) => m.body.text)).toEqual(["hi"]);
        expect((await store.readConversation(directConversationId(ALICE, CAROL), {}, 10)).items).toEqual([]);
      });

      it("treats the same clientMessageId from another sender as another message", async () => {
        const fromAlice = await store.appendDirectMessage(direct(ALICE, BOB, "hi", { clientMessageId: "same" }));
        const fromBob = await store.appendDirectMessage(direct(BOB, ALICE, "hi", { clientMessageId: "same" }));
        expect(fromBob.duplicate).toBe(false);
        expect(fromBob.message.messageId).not.toBe(fromAlice.message.messageId);
        expect(fromBob.message).toMatchObject({ senderId: BOB, seq: 2 });
      });

      it("gives concurrent appends to one conversation distinct, contiguous seqs and ordered inboxes", async () => {
        const results = await Promise.all(
          range(1, 50).map((i) => store.appendDirectMessage(i % 2 === 0 ? direct(ALICE, BOB, `m${i}`) : direct(BOB, ALICE, `m${i}`))),
        );
        expect(results.every((r) => !r.duplicate)).toBe(true);
        expect(seqsOf(results.map((r) => r.message)).sort((a, b) => a - b)).toEqual(range(1, 50));
        expect(new Set(results.map((r) => r.message.messageId)).size).toBe(50);
        for (const user of [ALICE, BOB]) {
          const inbox = await readWholeInbox(store, user);
          expect(cursorsOf(inbox)).toEqual(range(1, 50));
          // Every device sees a conversation in seq order.
          expect(inbox.map((e) => (e.type === "message" ? e.message.seq : 0))).toEqual(range(1, 50));
        }
        const history = await store.readConversation(ALICE_BOB, {}, 100);
        expect(seqsOf(history.items)).toEqual(range(1, 50).reverse());
      });

      it("stores concurrent retries of one send once", async () => {
        const results = await Promise.all(range(1, 10).map(() => store.appendDirectMessage(direct(ALICE, BOB, "once"))));
        expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
        expect(new Set(results.map((r) => r.message.messageId)).size).toBe(1);
        expect(await readWholeInbox(store, BOB)).toHaveLength(1);
      });
    });

    describe("readInbox", () => {
      it("returns events after the cursor, oldest first, at most `limit`, saying whether more follow", async () => {
        await sendAll(range(1, 5).map((i) => direct(ALICE, BOB, `m${i}`)));
        const first = await store.readInbox(BOB, 0, 2);
        expect(cursorsOf(first.items)).toEqual([1, 2]);
        expect(first.hasMore).toBe(true);
        const middle = await store.readInbox(BOB, 2, 2);
        expect(cursorsOf(middle.items)).toEqual([3, 4]);
        expect(middle.hasMore).toBe(true);
        const exact = await store.readInbox(BOB, 3, 2);
        expect(cursorsOf(exact.items)).toEqual([4, 5]);
        expect(exact.hasMore).toBe(false);
        expect(await store.readInbox(BOB, 5, 10)).toEqual({ items: [], hasMore: false });
        expect(await store.readInbox(BOB, 99, 10)).toEqual({ items: [], hasMore: false });
      });

      it("is empty for a user who never had an event", async () => {
        await store.appendDirectMessage(direct(ALICE, BOB, "hi"));
        expect(await store.readInbox(CAROL, 0, 10)).toEqual({ items: [], hasMore: false });
      });

      it("pages through every message and receipt exactly once, in order", async () => {
        const appended: InboxEvent[] = [];
        for (let i = 1; i <= 12; i++) {
          const sent = await store.appendDirectMessage(i % 3 === 0 ? direct(BOB, ALICE, `m${i}`) : direct(ALICE, BOB, `m${i}`));
          appended.push(...sent.events.filter((e) => e.userId === BOB).map((e) => e.event));
          if (i % 4 === 0) {
            const marked = await store.recordReceipt(receipt(BOB, "read", i));
            appended.push(...(marked?.events ?? []).filter((e) => e.userId === BOB).map((e) => e.event));
          }
        }
        expect(appended).toHaveLength(15);
        const seen: InboxEvent[] = [];
        let after = 0;
        for (let pages = 0; pages < 20; pages++) {
          const page = await store.readInbox(BOB, after, 4);
          seen.push(...page.items);
          after = page.items.at(-1)?.cursor ?? after;
          if (!page.hasMore) break;
        }
        expect(seen).toEqual(appended);
        expect(cursorsOf(seen)).toEqual(range(1, 15));
      });
    });

    describe("readConversation", () => {
      it("returns the newest messages first and pages back with `before`", async () => {
        const sent = await sendAll(range(1, 5).map((i) => direct(i % 2 === 0 ? BOB : ALICE, i % 2 === 0 ? ALICE : BOB, `m${i}`)));
        const all = await store.readConversation(ALICE_BOB, {}, 10);
        expect(all).toEqual({ items: sent.map((s) => s.message).reverse(), hasMore: false });

        const newest = await store.readConversation(ALICE_BOB, {}, 2);
        expect(seqsOf(newest.items)).toEqual([5, 4]);
        expect(newest.hasMore).toBe(true);
        const older = await store.readConversation(ALICE_BOB, { before: 4 }, 2);
        expect(seqsOf(older.items)).toEqual([3, 2]);
        expect(older.hasMore).toBe(true);
        const oldest = await store.readConversation(ALICE_BOB, { before: 2 }, 2);
        expect(seqsOf(oldest.items)).toEqual([1]);
        expect(oldest.hasMore).toBe(false);
        const exact = await store.readConversation(ALICE_BOB, { before: 3 }, 2);
        expect(seqsOf(exact.items)).toEqual([2, 1]);
        expect(exact.hasMore).toBe(false);
        expect(await store.readConversation(ALICE_BOB, { before: 1 }, 10)).toEqual({ items: [], hasMore: false });
      });

      it("holds only that conversation's messages", async () => {
        await sendAll([direct(ALICE, BOB, "ab"), direct(ALICE, CAROL, "ac"), direct(CAROL, BOB, "cb")]);
        const page = await store.readConversation(ALICE_BOB, {}, 10);
        expect(page.items.map((m) => m.body.text)).toEqual(["ab"]);
        expect(await store.readConversation(directConversationId(BOB, "dave"), {}, 10)).toEqual({ items: [], hasMore: false });
      });
    });

    describe("recordReceipt", () => {
      it("returns null for a conversation without messages", async () => {
        expect(await store.recordReceipt(receipt(BOB, "read", 1))).toBeNull();
        expect(await readWholeInbox(store, BOB)).toEqual([]);
      });

      it("advances a mark and appends one event for each participant", async () => {
        await sendAll(range(1, 3).map((i) => direct(ALICE, BOB, `m${i}`)));
        const at = new Date(T0 + 99_000);
        const recorded = await store.recordReceipt({ conversationId: ALICE_BOB, userId: BOB, kind: "read", upToSeq: 2, at });
        const expected = { conversationId: ALICE_BOB, userId: BOB, kind: "read", upToSeq: 2, at: at.toISOString() };
        expect(recorded?.changed).toBe(true);
        expect(recorded?.receipt).toEqual(expected);
        expect(recorded?.events.map((e) => e.userId).sort()).toEqual([ALICE, BOB]);
        for (const user of [ALICE, BOB]) {
          const inbox = await readWholeInbox(store, user);
          expect(inbox.at(-1)).toEqual({ cursor: 4, type: "receipt", receipt: expected });
          expect(recorded?.events.find((e) => e.userId === user)?.event).toEqual(inbox.at(-1));
        }
      });

      it("only moves forward: an older or equal receipt changes nothing and appends nothing", async () => {
        await sendAll(range(1, 3).map((i) => direct(ALICE, BOB, `m${i}`)));
        await store.recordReceipt(receipt(BOB, "read", 2));
        const inboxBefore = await readWholeInbox(store, ALICE);
        for (const upToSeq of [2, 1]) {
          const recorded = await store.recordReceipt(receipt(BOB, "read", upToSeq));
          expect(recorded?.changed).toBe(false);
          expect(recorded?.events).toEqual([]);
          expect(recorded?.receipt).toMatchObject({ conversationId: ALICE_BOB, userId: BOB, kind: "read", upToSeq: 2 });
        }
        expect(await readWholeInbox(store, ALICE)).toEqual(inboxBefore);
        const further = await store.recordReceipt(receipt(BOB, "read", 3));
        expect(further?.changed).toBe(true);
        expect(further?.receipt.upToSeq).toBe(3);
      });

      it("clamps the mark to the conversation's last seq", async () => {
        await sendAll(range(1, 3).map((i) => direct(ALICE, BOB, `m${i}`)));
        const clamped = await store.recordReceipt(receipt(BOB, "delivered", 99));
        expect(clamped?.changed).toBe(true);
        expect(clamped?.receipt.upToSeq).toBe(3);
        const again = await store.recordReceipt(receipt(BOB, "delivered", 100));
        expect(again?.changed).toBe(false);
        expect(again?.receipt.upToSeq).toBe(3);
        await store.appendDirectMessage(direct(ALICE, BOB, "m4"));
        const later = await store.recordReceipt(receipt(BOB, "delivered", 100));
        expect(later?.changed).toBe(true);
        expect(later?.receipt.upToSeq).toBe(4);
      });

      it("keeps separate marks per user and per kind", async () => {
        await sendAll(range(1, 3).map((i) => direct(ALICE, BOB, `m${i}`)));
        expect((await store.recordReceipt(receipt(BOB, "read", 3)))?.changed).toBe(true);
        expect((await store.recordReceipt(receipt(BOB, "delivered", 2)))?.changed).toBe(true);
        expect((await store.recordReceipt(receipt(ALICE, "read", 1)))?.changed).toBe(true);
        expect((await store.recordReceipt(receipt(BOB, "read", 2, directConversationId(BOB, CAROL))))).toBeNull();
      });

      it("appends a single event for a note to self", async () => {
        await store.appendDirectMessage(direct(ALICE, ALICE, "note"));
        const recorded = await store.recordReceipt(receipt(ALICE, "read", 1, "dm:alice:alice"));
        expect(recorded?.events.map((e) => [e.userId, e.event.cursor])).toEqual([[ALICE, 2]]);
      });
    });

    describe("group conversations", () => {
      it("numbers a group's messages 1, 2, 3 and appends no inbox events", async () => {
        const sentAt = new Date(T0 + 42);
        const first = await store.appendGroupMessage(groupMessage(ALICE, "hi all", { sentAt }));
        expect(first).toEqual({
          message: {
            messageId: expect.any(String) as string,
            conversationId: GROUP_CONVERSATION,
            seq: 1,
            senderId: ALICE,
            senderDeviceId: "alice-phone",
            groupId: GROUP,
            clientMessageId: "alice:hi all",
            body: { text: "hi all" },
            sentAt: sentAt.toISOString(),
          },
          duplicate: false,
          events: [],
        });
        const second = await store.appendGroupMessage(groupMessage(BOB, "hello"));
        const elsewhere = await store.appendGroupMessage(groupMessage(BOB, "other", { groupId: OTHER_GROUP }));
        expect(second.message.seq).toBe(2);
        expect(elsewhere.message).toMatchObject({ conversationId: groupConversationId(OTHER_GROUP), seq: 1 });
        expect(await readWholeInbox(store, ALICE)).toEqual([]);
        expect(seqsOf((await store.readConversation(GROUP_CONVERSATION, {}, 10)).items)).toEqual([2, 1]);
      });

      it("stores a retried group send once and refuses a clientMessageId reused elsewhere", async () => {
        const original = await store.appendGroupMessage(groupMessage(ALICE, "hi", { clientMessageId: "c1" }));
        expect(await store.appendGroupMessage(groupMessage(ALICE, "hi", { clientMessageId: "c1" }))).toEqual({
          message: original.message,
          duplicate: true,
          events: [],
        });
        await expect(async () => store.appendGroupMessage(groupMessage(ALICE, "bye", { clientMessageId: "c1" }))).rejects.toThrow(
          ClientMessageIdConflictError,
        );
        await expect(async () =>
          store.appendGroupMessage(groupMessage(ALICE, "hi", { clientMessageId: "c1", groupId: OTHER_GROUP })),
        ).rejects.toThrow(ClientMessageIdConflictError);
        await expect(async () => store.appendDirectMessage(direct(ALICE, BOB, "hi", { clientMessageId: "c1" }))).rejects.toThrow(
          ClientMessageIdConflictError,
        );
        expect((await store.appendGroupMessage(groupMessage(BOB, "hi", { clientMessageId: "c1" }))).duplicate).toBe(false);
      });

      it("pages forward with `after`, oldest first", async () => {
        for (let i = 1; i <= 5; i++) await store.appendGroupMessage(groupMessage(ALICE, `m${i}`));
        const first = await store.readConversation(GROUP_CONVERSATION, { after: 0 }, 2);
        expect(seqsOf(first.items)).toEqual([1, 2]);
        expect(first.hasMore).toBe(true);
        const rest = await store.readConversation(GROUP_CONVERSATION, { after: 2 }, 3);
        expect(seqsOf(rest.items)).toEqual([3, 4, 5]);
        expect(rest.hasMore).toBe(false);
        expect(await store.readConversation(GROUP_CONVERSATION, { after: 5 }, 3)).toEqual({ items: [], hasMore: false });
      });

      it("tells only the reader's own inbox about a group receipt", async () => {
        for (let i = 1; i <= 3; i++) await store.appendGroupMessage(groupMessage(ALICE, `m${i}`));
        const recorded = await store.recordReceipt(receipt(BOB, "read", 2, GROUP_CONVERSATION));
        expect(recorded?.changed).toBe(true);
        expect(recorded?.events.map((e) => [e.userId, e.event.cursor])).toEqual([[BOB, 1]]);
        expect(await readWholeInbox(store, ALICE)).toEqual([]);
        expect((await store.recordReceipt(receipt(BOB, "read", 1, GROUP_CONVERSATION)))?.changed).toBe(false);
      });

      it("appends a membership change to one user's inbox, after their other events", async () => {
        await store.appendDirectMessage(direct(ALICE, BOB, "hi"));
        const change: GroupMembershipChange = { groupId: GROUP, change: "added", role: "member", by: ALICE, at: new Date(T0).toISOString() };
        const appended = await store.appendMembershipChange(BOB, change);
        expect(appended).toEqual({ userId: BOB, event: { cursor: 2, type: "group", group: change } });
        expect((await readWholeInbox(store, BOB)).at(-1)).toEqual(appended.event);
        expect(await readWholeInbox(store, CAROL)).toEqual([]);
      });

      it("reports each conversation's last seq and the user's read mark, 0 where none", async () => {
        for (let i = 1; i <= 4; i++) await store.appendGroupMessage(groupMessage(ALICE, `m${i}`));
        await sendAll([direct(ALICE, BOB, "1"), direct(ALICE, BOB, "2")]);
        await store.recordReceipt(receipt(BOB, "read", 3, GROUP_CONVERSATION));
        await store.recordReceipt(receipt(BOB, "delivered", 2));
        const unknown = groupConversationId(OTHER_GROUP);
        const states = await store.conversationStates(BOB, [GROUP_CONVERSATION, ALICE_BOB, unknown]);
        expect(states).toEqual(
          new Map([
            [GROUP_CONVERSATION, { lastSeq: 4, readSeq: 3 }],
            [ALICE_BOB, { lastSeq: 2, readSeq: 0 }],
            [unknown, { lastSeq: 0, readSeq: 0 }],
          ]),
        );
        expect((await store.conversationStates(ALICE, [GROUP_CONVERSATION])).get(GROUP_CONVERSATION)).toEqual({ lastSeq: 4, readSeq: 0 });
      });
    });

    describe("directSenders", () => {
      it("names who has written in a direct conversation: one side after a first message, both after a reply", async () => {
        const ALICE_CAROL = directConversationId(ALICE, CAROL);
        expect(await store.directSenders([ALICE_BOB])).toEqual(new Map([[ALICE_BOB, new Set()]]));
        await sendAll([direct(ALICE, BOB, "1"), direct(ALICE, BOB, "2"), direct(CAROL, ALICE, "3")]);
        expect(await store.directSenders([ALICE_BOB, ALICE_CAROL])).toEqual(
          new Map([
            [ALICE_BOB, new Set([ALICE])],
            [ALICE_CAROL, new Set([CAROL])],
          ]),
        );
        await store.appendDirectMessage(direct(BOB, ALICE, "4"));
        expect((await store.directSenders([ALICE_BOB])).get(ALICE_BOB)).toEqual(new Set([ALICE, BOB]));
      });

      it("counts neither a retried send twice nor group messages, and names nobody for other ids", async () => {
        await store.appendDirectMessage(direct(ALICE, BOB, "1"));
        await store.appendDirectMessage(direct(ALICE, BOB, "1"));
        await store.appendGroupMessage(groupMessage(BOB, "in the group"));
        const states = await store.directSenders([ALICE_BOB, GROUP_CONVERSATION, directConversationId(CAROL, "dave")]);
        expect(states).toEqual(
          new Map([
            [ALICE_BOB, new Set([ALICE])],
            [GROUP_CONVERSATION, new Set()],
            [directConversationId(CAROL, "dave"), new Set()],
          ]),
        );
      });
    });

    describe("durability", () => {
      it("keeps everything across a reopen and continues numbering where it stopped", async () => {
        const sent = await sendAll([direct(ALICE, BOB, "1"), direct(BOB, ALICE, "2"), direct(ALICE, CAROL, "3")]);
        await store.recordReceipt(receipt(BOB, "read", 2));
        const inboxes = new Map<UserId, InboxEvent[]>();
        for (const user of [ALICE, BOB, CAROL]) inboxes.set(user, await readWholeInbox(store, user));
        const history = await store.readConversation(ALICE_BOB, {}, 10);
        await store.close();

        const reopened = await fixture.reopen();
        store = reopened;
        for (const user of [ALICE, BOB, CAROL]) expect(await readWholeInbox(reopened, user)).toEqual(inboxes.get(user));
        expect(await reopened.readConversation(ALICE_BOB, {}, 10)).toEqual(history);
        expect((await reopened.directSenders([ALICE_BOB])).get(ALICE_BOB)).toEqual(new Set([ALICE, BOB]));

        const retry = await reopened.appendDirectMessage(direct(ALICE, BOB, "1"));
        expect(retry).toEqual({ message: sent[0]?.message, duplicate: true, events: [] });
        expect((await reopened.recordReceipt(receipt(BOB, "read", 1)))?.changed).toBe(false);

        const next = await reopened.appendDirectMessage(direct(BOB, ALICE, "4"));
        expect(next.message.seq).toBe(3);
        expect(next.message.messageId).not.toBe(sent[1]?.message.messageId);
        expect(next.events.map((e) => [e.userId, e.event.cursor]).sort()).toEqual([
          [ALICE, 5],
          [BOB, 4],
        ]);
      });
    });
  });
}
