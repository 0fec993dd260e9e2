import { openSqlite, prepare, transaction, type Sqlite } from "./sqlite.js";
import { WalSync } from "./wal-sync.js";
import { WalCheckpointer } from "./wal-checkpointer.js";
import { CommitHeads } from "./commit-heads.js";
import { monotonicFactory } from "ulid";
import { directConversationId, directPair, directParticipants, groupConversationId, groupOfConversation, type ConversationId, type UserId } from "../../protocol/ids.js";
import type { GroupMembershipChange, InboxEvent, Message, Receipt } from "../../protocol/frames.js";
import {
  ClientMessageIdConflictError,
  type AppendedEvent,
  type AppendedMessage,
  type ConversationState,
  type MessageStore,
  type NewDirectMessage,
  type NewGroupMessage,
  type NewReceipt,
  type Page,
  type RecordedReceipt,
} from "../../ports/message-store.js";

/**
 * 2: messages and inbox events live in rowid tables. Keyed by (conversation, seq) and (user,
 * cursor) without a rowid, every append landed in the middle of a tree of ~400-byte rows, and
 * splitting and rewriting those pages cost 2-3x the CPU of the whole append. Who has written
 * in a direct conversation is a row per sender, not an index entry per message, and the
 * message id (a ULID from one monotonic generator) has no unique index to keep up.
 */
const SCHEMA_VERSION = 2;

const MESSAGES_TABLE = `
CREATE TABLE messages (
  conversation_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  client_message_id TEXT NOT NULL,
  message TEXT NOT NULL,
  UNIQUE (conversation_id, seq),
  UNIQUE (sender_id, client_message_id)
)`;

const INBOX_TABLE = `
CREATE TABLE inbox (
  user_id TEXT NOT NULL,
  cursor INTEGER NOT NULL,
  event TEXT NOT NULL,
  UNIQUE (user_id, cursor)
)`;

/**
 * SQLite's own checkpoint, inside a COMMIT, only once the log has outgrown this many pages
 * (32 MiB): the checkpointer thread keeps it far smaller unless it falls behind.
 */
const FALLBACK_CHECKPOINT_PAGES = 8192;
const WAL_SIZE_LIMIT_BYTES = 8 * 1024 * 1024;
/** At most ten checkpoints a second while writes go on; a passive one costs little when the log is short. */
const CHECKPOINT_INTERVAL_MS = 100;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS conversations (
  conversation_id TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL
) WITHOUT ROWID;
${MESSAGES_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS")};
-- Who has written in a direct conversation: presence's contacts rule reads it.
CREATE TABLE IF NOT EXISTS direct_senders (
  conversation_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  PRIMARY KEY (conversation_id, sender_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox_heads (
  user_id TEXT PRIMARY KEY,
  last_cursor INTEGER NOT NULL
) WITHOUT ROWID;
${INBOX_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS")};
CREATE TABLE IF NOT EXISTS receipt_marks (
  conversation_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  up_to_seq INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, user_id, kind)
) WITHOUT ROWID;
`;

/**
 * The embedded message store: one SQLite file. A resolved write has reached the disk (the
 * gateway acks only after that), but the disk sync does not hold the event loop: commits
 * are grouped per turn of the loop and synced on the thread pool (WalSync), and the log
 * is checkpointed into the database file on a thread of its own (WalCheckpointer).
 */
export class SqliteMessageStore implements MessageStore {
  private readonly db: Sqlite;
  private readonly nextMessageId = monotonicFactory();
  private readonly pendingWrites: { write: () => unknown; resolve: (value: unknown) => void; reject: (error: Error) => void }[] = [];
  private readonly statements;
  /** null for an in-memory database, which has nothing to sync. */
  private readonly walSync: WalSync | null;
  private readonly checkpoints: WalCheckpointer | null;
  /** The conversations' last seq and the inboxes' last cursor in the group commit under way. */
  private commitHeads: CommitHeads | null = null;

  /**
   * `onCheckpointFailure` hears of a checkpoint the worker thread could not run, or of the
   * thread's end: nothing is lost (SQLite's own checkpoint takes over past 32 MiB of log),
   * but an operator should know.
   */
  constructor(path: string, onCheckpointFailure: (message: string) => void = () => undefined) {
    this.db = openSqlite(path);
    // Durability is WalSync's job: see there why this is as safe as FULL.
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.walSync = path === ":memory:" || path === "" ? null : new WalSync(path);
    this.checkpoints =
      this.walSync === null
        ? null
        : new WalCheckpointer(path, CHECKPOINT_INTERVAL_MS, (outcome) => {
            if (!outcome.ok) onCheckpointFailure(outcome.message);
          });
    if (this.checkpoints !== null) {
      this.db.exec(`PRAGMA wal_autocheckpoint = ${String(FALLBACK_CHECKPOINT_PAGES)}`);
      // A log that grew in a burst is cut back to this when it next restarts, not kept.
      this.db.exec(`PRAGMA journal_size_limit = ${String(WAL_SIZE_LIMIT_BYTES)}`);
    }
    this.migrate();
    this.statements = {
      findByClientId: prepare<[string, string], { message: string }>(this.db,
        "SELECT message FROM messages WHERE sender_id = ? AND client_message_id = ?",
      ),
      hasSent: prepare<[string, string], { one: number }>(this.db,
        "SELECT 1 AS one FROM direct_senders WHERE conversation_id = ? AND sender_id = ?",
      ),
      // A look-up that finds the row after a conversation's first message: no page written.
      addSender: prepare(this.db, "INSERT OR IGNORE INTO direct_senders (conversation_id, sender_id) VALUES (?, ?)"),
      lastSeq: prepare<[string], { last_seq: number }>(this.db, "SELECT last_seq FROM conversations WHERE conversation_id = ?"),
      setLastSeq: prepare(this.db,
        "INSERT INTO conversations (conversation_id, last_seq) VALUES (?, ?) ON CONFLICT (conversation_id) DO UPDATE SET last_seq = excluded.last_seq",
      ),
      insertMessage: prepare(this.db,
        "INSERT INTO messages (conversation_id, seq, message_id, sender_id, client_message_id, message) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      lastCursor: prepare<[string], { last_cursor: number }>(this.db, "SELECT last_cursor FROM inbox_heads WHERE user_id = ?"),
      setLastCursor: prepare(this.db,
        "INSERT INTO inbox_heads (user_id, last_cursor) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET last_cursor = excluded.last_cursor",
      ),
      insertEvent: prepare(this.db, "INSERT INTO inbox (user_id, cursor, event) VALUES (?, ?, ?)"),
      readInbox: prepare<[string, number, number], { event: string }>(this.db,
        "SELECT event FROM inbox WHERE user_id = ? AND cursor > ? ORDER BY cursor LIMIT ?",
      ),
      readAfter: prepare<[string, number, number], { message: string }>(this.db,
        "SELECT message FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?",
      ),
      readNewest: prepare<[string, number], { message: string }>(this.db,
        "SELECT message FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?",
      ),
      readBefore: prepare<[string, number, number], { message: string }>(this.db,
        "SELECT message FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
      ),
      receiptMark: prepare<[string, string, string], { up_to_seq: number }>(this.db,
        "SELECT up_to_seq FROM receipt_marks WHERE conversation_id = ? AND user_id = ? AND kind = ?",
      ),
      setReceiptMark: prepare(this.db,
        "INSERT INTO receipt_marks (conversation_id, user_id, kind, up_to_seq) VALUES (?, ?, ?, ?) ON CONFLICT (conversation_id, user_id, kind) DO UPDATE SET up_to_seq = excluded.up_to_seq",
      ),
    };
  }

  appendDirectMessage(input: NewDirectMessage): Promise<AppendedMessage> {
    return this.commit(() => this.appendTransaction(input));
  }

  appendGroupMessage(input: NewGroupMessage): Promise<AppendedMessage> {
    return this.commit(() => this.appendGroupTransaction(input));
  }

  appendMembershipChange(userId: UserId, change: GroupMembershipChange): Promise<AppendedEvent> {
    return this.commit(transaction(this.db, () => this.appendEvent(userId, { type: "group", group: change })));
  }

  conversationStates(userId: UserId, conversationIds: readonly ConversationId[]): Promise<Map<ConversationId, ConversationState>> {
    const states = new Map<ConversationId, ConversationState>();
    for (const conversationId of conversationIds) {
      states.set(conversationId, {
        lastSeq: this.statements.lastSeq.get(conversationId)?.last_seq ?? 0,
        readSeq: this.statements.receiptMark.get(conversationId, userId, "read")?.up_to_seq ?? 0,
      });
    }
    return Promise.resolve(states);
  }

  directSenders(conversationIds: readonly ConversationId[]): Promise<Map<ConversationId, Set<UserId>>> {
    const senders = new Map<ConversationId, Set<UserId>>();
    for (const conversationId of conversationIds) {
      const participants = directParticipants(conversationId) ?? [];
      senders.set(conversationId, new Set(participants.filter((userId) => this.statements.hasSent.get(conversationId, userId) !== undefined)));
    }
    return Promise.resolve(senders);
  }

  recordReceipt(input: NewReceipt): Promise<RecordedReceipt | null> {
    return this.commit(() => this.receiptTransaction(input));
  }

  readInbox(userId: UserId, after: number, limit: number): Promise<Page<InboxEvent>> {
    const rows = this.statements.readInbox.all(userId, after, limit + 1);
    return Promise.resolve(page(rows.map((row) => JSON.parse(row.event) as InboxEvent), limit));
  }

  readConversation(conversationId: ConversationId, range: { before?: number; after?: number }, limit: number): Promise<Page<Message>> {
    const rows =
      range.after !== undefined
        ? this.statements.readAfter.all(conversationId, range.after, limit + 1)
        : range.before !== undefined
          ? this.statements.readBefore.all(conversationId, range.before, limit + 1)
          : this.statements.readNewest.all(conversationId, limit + 1);
    return Promise.resolve(page(rows.map((row) => JSON.parse(row.message) as Message), limit));
  }

  /**
   * Group commit: writes that arrive in the same turn of the event loop share one outer
   * transaction. Each write runs in its own savepoint (its own transaction(), nested), so
   * one failing write rolls back alone. The COMMIT only writes the log; every promise
   * resolves once WalSync has synced the log past it, so an ack still means on disk,
   * while the loop goes on serving other clients during the sync.
   */
  private commit<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pendingWrites.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (this.pendingWrites.length === 1) setImmediate(this.flushWrites);
    });
  }

  private readonly flushWrites = (): void => {
    const batch = this.pendingWrites.splice(0);
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    const heads = new CommitHeads();
    this.commitHeads = heads;
    try {
      transaction(this.db, () => {
        for (const { write } of batch) {
          heads.beginWrite();
          try {
            outcomes.push({ ok: true, value: write() });
          } catch (error) {
            // SQLite may have rolled back the whole transaction (a full disk, an I/O
            // error), not only this write's savepoint: then the writes before it are gone
            // too, and the heads they advanced must not be saved. The batch fails as one.
            if (!this.db.isTransaction) throw error;
            heads.undoWrite();
            outcomes.push({ ok: false, error });
          }
        }
        heads.saveAll();
      })();
    } catch (error) {
      for (const { reject } of batch) reject(error as Error);
      return;
    } finally {
      this.commitHeads = null;
    }
    this.checkpoints?.committed();
    const settle = (): void => {
      batch.forEach(({ resolve, reject }, index) => {
        const outcome = outcomes[index];
        if (outcome?.ok) resolve(outcome.value);
        else reject(outcome?.error as Error);
      });
    };
    if (this.walSync === null) {
      settle();
      return;
    }
    this.walSync.synced().then(settle, (error: unknown) => {
      for (const { reject } of batch) reject(error as Error);
    });
  };

  async close(): Promise<void> {
    await this.checkpoints?.close();
    await this.walSync?.close();
    if (this.db.isOpen) this.db.close();
  }

  private readonly appendTransaction = (input: NewDirectMessage): AppendedMessage =>
    transaction(this.db, (): AppendedMessage => {
      const conversationId = directConversationId(input.senderId, input.recipientId);
      const existing = this.findRepeat(input.senderId, input.clientMessageId, conversationId, input.body);
      if (existing) return existing;
      const { message, json } = this.insertMessage(conversationId, input, { recipientId: input.recipientId });
      this.statements.addSender.run(conversationId, input.senderId);
      // The message is serialised once, for its row and both inbox events.
      const eventJson = `{"type":"message","message":${json}}`;
      const events = directPair(input.senderId, input.recipientId).map((userId) => this.appendEvent(userId, { type: "message", message }, eventJson));
      return { message, duplicate: false, events };
    })();

  private readonly appendGroupTransaction = (input: NewGroupMessage): AppendedMessage =>
    transaction(this.db, (): AppendedMessage => {
      const conversationId = groupConversationId(input.groupId);
      const existing = this.findRepeat(input.senderId, input.clientMessageId, conversationId, input.body);
      if (existing) return existing;
      return { message: this.insertMessage(conversationId, input, { groupId: input.groupId }).message, duplicate: false, events: [] };
    })();

  /** The stored message a retried send refers to; a conflict if it differs. */
  private findRepeat(senderId: UserId, clientMessageId: string, conversationId: ConversationId, body: Message["body"]): AppendedMessage | null {
    const existing = this.statements.findByClientId.get(senderId, clientMessageId);
    if (!existing) return null;
    const message = JSON.parse(existing.message) as Message;
    if (message.conversationId !== conversationId || JSON.stringify(message.body) !== JSON.stringify(body)) {
      throw new ClientMessageIdConflictError(clientMessageId);
    }
    return { message, duplicate: true, events: [] };
  }

  private insertMessage(
    conversationId: ConversationId,
    input: NewDirectMessage | NewGroupMessage,
    target: Pick<Message, "recipientId" | "groupId">,
  ): { message: Message; json: string } {
    const seq = this.lastSeq(conversationId) + 1;
    const message: Message = {
      messageId: this.nextMessageId(input.sentAt.getTime()),
      conversationId,
      seq,
      senderId: input.senderId,
      senderDeviceId: input.senderDeviceId,
      ...target,
      clientMessageId: input.clientMessageId,
      body: input.body,
      sentAt: input.sentAt.toISOString(),
    };
    this.heads().set(`seq ${conversationId}`, seq, (last) => this.statements.setLastSeq.run(conversationId, last));
    const json = JSON.stringify(message);
    this.statements.insertMessage.run(conversationId, seq, message.messageId, input.senderId, input.clientMessageId, json);
    return { message, json };
  }

  private readonly receiptTransaction = (input: NewReceipt): RecordedReceipt | null =>
    transaction(this.db, (): RecordedReceipt | null => {
      const lastSeq = this.lastSeq(input.conversationId);
      if (lastSeq === 0) return null;
      const previous = this.statements.receiptMark.get(input.conversationId, input.userId, input.kind)?.up_to_seq ?? 0;
      const upToSeq = Math.min(input.upToSeq, lastSeq);
      const receipt: Receipt = {
        conversationId: input.conversationId,
        userId: input.userId,
        kind: input.kind,
        upToSeq: Math.max(upToSeq, previous),
        at: input.at.toISOString(),
      };
      if (upToSeq <= previous) return { receipt, changed: false, events: [] };
      this.statements.setReceiptMark.run(input.conversationId, input.userId, input.kind, upToSeq);
      // In a group, a read mark concerns the reader's own devices only.
      const recipients = groupOfConversation(input.conversationId) === null ? participantsOf(input.conversationId) : [input.userId];
      const events = recipients.map((userId) => this.appendEvent(userId, { type: "receipt", receipt }));
      return { receipt, changed: true, events };
    })();

  /** Every write runs inside a group commit (commit()), which holds the heads. */
  private heads(): CommitHeads {
    if (this.commitHeads === null) throw new Error("a message store write ran outside a group commit");
    return this.commitHeads;
  }

  /** 0 for a conversation without messages. */
  private lastSeq(conversationId: ConversationId): number {
    return this.heads().get(`seq ${conversationId}`, () => this.statements.lastSeq.get(conversationId)?.last_seq);
  }

  /** `json` is the event serialised without its cursor, when the caller has it already. */
  private appendEvent(userId: UserId, event: DistributiveOmit<InboxEvent, "cursor">, json = JSON.stringify(event)): AppendedEvent {
    const heads = this.heads();
    const cursor = heads.get(`cursor ${userId}`, () => this.statements.lastCursor.get(userId)?.last_cursor) + 1;
    heads.set(`cursor ${userId}`, cursor, (last) => this.statements.setLastCursor.run(userId, last));
    // The cursor goes last, where `{ ...event, cursor }` would put it.
    this.statements.insertEvent.run(userId, cursor, `${json.slice(0, -1)},"cursor":${String(cursor)}}`);
    return { userId, event: { ...event, cursor } };
  }

  private migrate(): void {
    this.db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const row = prepare<[], { version: number }>(this.db, "SELECT version FROM schema_version").get();
    if (row !== undefined && row.version > SCHEMA_VERSION) {
      throw new Error(`data directory holds schema version ${row.version}, newer than this build's ${SCHEMA_VERSION}`);
    }
    transaction(this.db, () => {
      if (row?.version === 1) {
        this.rebuild("messages", MESSAGES_TABLE, "conversation_id, seq, message_id, sender_id, client_message_id, message", "conversation_id, seq");
        this.rebuild("inbox", INBOX_TABLE, "user_id, cursor, event", "user_id, cursor");
      }
      this.db.exec(SCHEMA);
      if (row?.version === 1) {
        this.db.exec("INSERT OR IGNORE INTO direct_senders (conversation_id, sender_id) SELECT DISTINCT conversation_id, sender_id FROM messages WHERE conversation_id LIKE 'dm:%'");
      }
      if (row === undefined) prepare(this.db, "INSERT INTO schema_version (version) VALUES (?)").run(SCHEMA_VERSION);
      else prepare(this.db, "UPDATE schema_version SET version = ?").run(SCHEMA_VERSION);
    })();
  }

  /** Copies a version 1 table into its version 2 shape (its indexes go with the old table; SCHEMA makes them anew). */
  private rebuild(table: string, create: string, columns: string, order: string): void {
    this.db.exec(`ALTER TABLE ${table} RENAME TO ${table}_v1`);
    this.db.exec(create);
    this.db.exec(`INSERT INTO ${table} (${columns}) SELECT ${columns} FROM ${table}_v1 ORDER BY ${order}`);
    this.db.exec(`DROP TABLE ${table}_v1`);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Both participants, once each (a note to self has one). */
function participantsOf(conversationId: ConversationId): UserId[] {
  const participants = directParticipants(conversationId);
  if (participants === null) throw new Error(`not a direct conversation: ${conversationId}`);
  return participants[0] === participants[1] ? [participants[0]] : participants;
}


function page<T>(rows: T[], limit: number): Page<T> {
  return { items: rows.slice(0, limit), hasMore: rows.length > limit };
}
