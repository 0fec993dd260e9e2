import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { directConversationId, UserId } from "../../protocol/ids.js";
import { describeMessageStoreContract } from "../../ports/contract/message-store.contract.js";
import type { MessageStore } from "../../ports/message-store.js";
import { makeTempDir } from "../../testing/temp-dir.js";
import { SqliteMessageStore } from "./sqlite-message-store.js";

describeMessageStoreContract("SqliteMessageStore", async () => {
  const dir = await makeTempDir("parley-sqlite-");
  const path = join(dir.path, "messages.db");
  const opened: MessageStore[] = [new SqliteMessageStore(path)];
  return {
    store: opened[0] as MessageStore,
    reopen: () => {
      const store = new SqliteMessageStore(path);
      opened.push(store);
      return Promise.resolve(store);
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()));
      await dir.remove();
    },
  };
});

describe("SqliteMessageStore on a data directory of schema version 1", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it("keeps its messages and inbox, and goes on from their last seq and cursor", async () => {
    const dir = await makeTempDir("parley-sqlite-v1-");
    const path = join(dir.path, "messages.db");
    const [ana, ben] = [UserId.parse("ana"), UserId.parse("ben")];
    const conversationId = directConversationId(ana, ben);
    const v1 = new DatabaseSync(path);
    v1.exec(`
      CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
      CREATE TABLE conversations (conversation_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE messages (conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, message_id TEXT NOT NULL UNIQUE, sender_id TEXT NOT NULL,
        client_message_id TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY (conversation_id, seq), UNIQUE (sender_id, client_message_id)) WITHOUT ROWID;
      CREATE INDEX messages_by_sender ON messages (conversation_id, sender_id);
      CREATE TABLE inbox_heads (user_id TEXT PRIMARY KEY, last_cursor INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE inbox (user_id TEXT NOT NULL, cursor INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (user_id, cursor)) WITHOUT ROWID;
    `);
    const old = { messageId: "01J0000000000000000000000A", conversationId, seq: 1, senderId: ana, senderDeviceId: "phone", recipientId: ben, clientMessageId: "c1", body: { text: "from v1" }, sentAt: "2026-01-01T00:00:00.000Z" };
    v1.prepare("INSERT INTO conversations VALUES (?, 1)").run(conversationId);
    v1.prepare("INSERT INTO messages VALUES (?, 1, ?, ?, 'c1', ?)").run(conversationId, old.messageId, ana, JSON.stringify(old));
    for (const user of [ana, ben]) {
      v1.prepare("INSERT INTO inbox_heads VALUES (?, 1)").run(user);
      v1.prepare("INSERT INTO inbox VALUES (?, 1, ?)").run(user, JSON.stringify({ type: "message", message: old, cursor: 1 }));
    }
    v1.close();

    const store = new SqliteMessageStore(path);
    cleanups.push(async () => {
      await store.close();
      await dir.remove();
    });
    const appended = await store.appendDirectMessage({ senderId: ben, senderDeviceId: "laptop", recipientId: ana, clientMessageId: "c2", body: { text: "from v2" }, sentAt: new Date() });
    expect(appended.message.seq).toBe(2);
    expect(appended.events.map((e) => e.event.cursor)).toEqual([2, 2]);
    expect((await store.readInbox(ana, 0, 10)).items.map((event) => event.cursor)).toEqual([1, 2]);
    expect((await store.readConversation(conversationId, { after: 0 }, 10)).items.map((m) => m.body)).toEqual([{ text: "from v1" }, { text: "from v2" }]);
    expect((await store.directSenders([conversationId])).get(conversationId)).toEqual(new Set([ana, ben]));
    // A retried send of the version 1 message is still recognised as the same message.
    const retried = await store.appendDirectMessage({ senderId: ana, senderDeviceId: "phone", recipientId: ben, clientMessageId: "c1", body: { text: "from v1" }, sentAt: new Date() });
    expect(retried).toMatchObject({ duplicate: true, message: { seq: 1 } });
  });
});
