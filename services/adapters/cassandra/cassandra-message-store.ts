import type { Client, types } from "cassandra-driver";
import { monotonicFactory } from "ulid";
import { directConversationId, directParticipants, groupConversationId, groupOfConversation, type ConversationId, type UserId } from "../../protocol/ids.js";
import type { GroupMembershipChange, InboxEvent, Message, Receipt, ReceiptKind } from "../../protocol/frames.js";
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
import {
  checkedKeyspace,
  resolveConsistency,
  retryTransient,
  settleWithin,
  type CassandraOptions,
  type ResolvedConsistency,
} from "./cassandra-options.js";
import { BoundedMap, KeyedMutex } from "./keyed-mutex.js";
import { connectAndMigrate, INBOX_BUCKET_SIZE, MESSAGE_BUCKET_SIZE } from "./migrations.js";
import { bigintMapOf, bigintOf, lwtOutcome, optionalBigintOf, optionalTextOf, textOf } from "./rows.js";

/**
 * The production message store (tables: see migration 1 in migrations.ts).
 *
 * Ordering. A conversation's seq and an inbox's cursor are counters in one row each
 * (`conversations.last_seq`, `inbox_heads.last_cursor`), advanced only by lightweight
 * transactions (`... IF last_seq = ?`), so two processes can never hand out the same
 * number; a transaction that loses re-reads the row and tries the next number.
 *
 * Crash safety. An append writes several partitions, which Cassandra cannot do
 * atomically, so every multi-step change is first recorded where the next writer must
 * look, then completed by whoever gets there, with writes that are idempotent
 * re-applications:
 *
 * 1. The sender's (senderId, clientMessageId) row is claimed first (INSERT IF NOT
 *    EXISTS) with the message id. Whoever claims it is the one who reports the message as
 *    new; everyone else gets `duplicate: true`.
 * 2. The seq is taken together with the whole message: `conversations.pending` holds the
 *    message (with its seq and participants) in the same transaction that raises last_seq.
 *    While `pending` is set nobody takes the next seq: the next writer of the conversation
 *    (or a retry of the same send) first completes the pending append. This keeps each
 *    inbox in seq order and means a crash after step 2 loses nothing: the message is
 *    durable and its remaining writes are redone by the next writer.
 * 3. Completing writes the message row, appends an inbox event per participant (below)
 *    and stores the message in the idempotency row. The completed `pending` stays in the
 *    row: the same process's next append replaces it in the transaction that takes the
 *    next seq (IF last_seq = ? AND pending = it), and any other writer that finds it
 *    completes it again (a no-op) and clears it (IF pending = it) before going on.
 *
 * Inbox appends claim the next cursor in `inbox_heads` with the event itself, so a crash
 * before the event's own row is written leaves no gap: whoever claims the following
 * cursor first writes that row ("settles" the head) and records, in the event's owner
 * (the message's `inbox_cursors`, or `receipt_events`), the cursor it landed on. An event
 * is therefore findable at every moment (it is the head, or its cursor is recorded), and
 * an append that is redone after a crash finds it instead of appending it twice.
 *
 * Receipts follow the same pattern: the mark and the receipt to announce are written in
 * one transaction (`receipt_marks.pending`), the events appended, and `pending` replaced
 * by this process's next receipt or cleared by another writer.
 *
 * A caveat of recovery: when a send is completed by someone other than its first caller
 * (after a crash), that caller reports `duplicate: true` and no events, so nobody pushes
 * the message live; recipients see it at their next sync.
 *
 * Within one process, appends to a conversation (and to an inbox) are queued, so the
 * process does not contend with itself; numbers it handed out last are remembered so
 * that an uncontended append takes one transaction per counter: a direct message takes
 * four (its idempotency row, its seq, the two inboxes side by side), a group message two.
 */
export class CassandraMessageStore implements MessageStore {
  private readonly nextMessageId = monotonicFactory();
  private readonly conversationLocks = new KeyedMutex();
  private readonly inboxLocks = new KeyedMutex();
  private readonly receiptLocks = new KeyedMutex();
  /**
   * Last append this process completed per conversation: its seq, and the `pending` it
   * left in the row (null once cleared). The next append here replaces that `pending` in
   * its own transaction instead of clearing it in one of its own.
   */
  private readonly knownLastSeq = new BoundedMap<ConversationId, { seq: number; pending: string | null }>(10_000);
  /** Per receipt mark (conversation|user|kind): the `pending` this process completed and left in the row. */
  private readonly knownMarkPending = new BoundedMap<string, string>(10_000);
  /** Head this process last claimed per inbox. */
  private readonly knownHeads = new BoundedMap<UserId, { cursor: number; eventId: string }>(10_000);
  private readonly cql;
  private readonly consistency: ResolvedConsistency;
  private closed = false;

  /** Connects, runs the migrations (unless `migrate: false`) and returns the store. */
  static async open(options: CassandraOptions): Promise<CassandraMessageStore> {
    return new CassandraMessageStore(await connectAndMigrate(options), options, true);
  }

  /** A store on a connected client; `ownsClient` makes close() shut the client down. */
  constructor(
    private readonly client: Client,
    options: Pick<CassandraOptions, "keyspace" | "consistency">,
    private readonly ownsClient = false,
  ) {
    this.consistency = resolveConsistency(options.consistency);
    const ks = checkedKeyspace(options.keyspace);
    this.cql = {
      claimClientMessage: `INSERT INTO ${ks}.client_messages (sender_id, client_message_id, conversation_id, message_id, body) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS`,
      clientMessage: `SELECT message FROM ${ks}.client_messages WHERE sender_id = ? AND client_message_id = ?`,
      completeClientMessage: `UPDATE ${ks}.client_messages SET message = ? WHERE sender_id = ? AND client_message_id = ?`,
      conversation: `SELECT last_seq, pending FROM ${ks}.conversations WHERE conversation_id = ?`,
      firstSeq: `INSERT INTO ${ks}.conversations (conversation_id, last_seq, pending) VALUES (?, ?, ?) IF NOT EXISTS`,
      nextSeq: `UPDATE ${ks}.conversations SET last_seq = ?, pending = ? WHERE conversation_id = ? IF last_seq = ? AND pending = null`,
      nextSeqAfterCompleted: `UPDATE ${ks}.conversations SET last_seq = ?, pending = ? WHERE conversation_id = ? IF last_seq = ? AND pending = ?`,
      clearPending: `UPDATE ${ks}.conversations SET pending = null WHERE conversation_id = ? IF pending = ?`,
      insertDirectSender: `INSERT INTO ${ks}.direct_senders (conversation_id, sender_id) VALUES (?, ?)`,
      directSenders: `SELECT sender_id FROM ${ks}.direct_senders WHERE conversation_id = ?`,
      insertMessage: `INSERT INTO ${ks}.messages (conversation_id, bucket, seq, message) VALUES (?, ?, ?, ?)`,
      messageCursors: `SELECT inbox_cursors FROM ${ks}.messages WHERE conversation_id = ? AND bucket = ? AND seq = ?`,
      recordMessageCursor: `UPDATE ${ks}.messages SET inbox_cursors[?] = ? WHERE conversation_id = ? AND bucket = ? AND seq = ?`,
      messagesAfter: `SELECT message FROM ${ks}.messages WHERE conversation_id = ? AND bucket = ? AND seq > ? ORDER BY seq ASC LIMIT ?`,
      messagesUpTo: `SELECT message FROM ${ks}.messages WHERE conversation_id = ? AND bucket = ? AND seq <= ? ORDER BY seq DESC LIMIT ?`,
      head: `SELECT last_cursor, last_event_id, last_event FROM ${ks}.inbox_heads WHERE user_id = ?`,
      firstCursor: `INSERT INTO ${ks}.inbox_heads (user_id, last_cursor, last_event_id, last_event) VALUES (?, ?, ?, ?) IF NOT EXISTS`,
      nextCursor: `UPDATE ${ks}.inbox_heads SET last_cursor = ?, last_event_id = ?, last_event = ? WHERE user_id = ? IF last_cursor = ?`,
      insertEvent: `INSERT INTO ${ks}.inbox (user_id, bucket, cursor, event_id, event) VALUES (?, ?, ?, ?, ?)`,
      eventsAfter: `SELECT cursor, event FROM ${ks}.inbox WHERE user_id = ? AND bucket = ? AND cursor > ? AND cursor <= ? LIMIT ?`,
      mark: `SELECT up_to_seq, pending FROM ${ks}.receipt_marks WHERE conversation_id = ? AND user_id = ? AND kind = ?`,
      firstMark: `INSERT INTO ${ks}.receipt_marks (conversation_id, user_id, kind, up_to_seq, pending) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS`,
      nextMark: `UPDATE ${ks}.receipt_marks SET up_to_seq = ?, pending = ? WHERE conversation_id = ? AND user_id = ? AND kind = ? IF up_to_seq = ? AND pending = null`,
      nextMarkAfterCompleted: `UPDATE ${ks}.receipt_marks SET up_to_seq = ?, pending = ? WHERE conversation_id = ? AND user_id = ? AND kind = ? IF up_to_seq = ? AND pending = ?`,
      clearMarkPending: `UPDATE ${ks}.receipt_marks SET pending = null WHERE conversation_id = ? AND user_id = ? AND kind = ? IF pending = ?`,
      receiptCursors: `SELECT inbox_cursors FROM ${ks}.receipt_events WHERE conversation_id = ? AND user_id = ? AND kind = ? AND up_to_seq = ?`,
      recordReceiptCursor: `UPDATE ${ks}.receipt_events SET inbox_cursors[?] = ? WHERE conversation_id = ? AND user_id = ? AND kind = ? AND up_to_seq = ?`,
    };
  }

  appendDirectMessage(input: NewDirectMessage): Promise<AppendedMessage> {
    const conversationId = directConversationId(input.senderId, input.recipientId);
    return this.append(conversationId, input, { recipientId: input.recipientId }, participantsOf(conversationId));
  }

  appendGroupMessage(input: NewGroupMessage): Promise<AppendedMessage> {
    return this.append(groupConversationId(input.groupId), input, { groupId: input.groupId }, []);
  }

  appendMembershipChange(userId: UserId, change: GroupMembershipChange): Promise<AppendedEvent> {
    // A fresh id: the port has no idempotency key for these, and one transaction appends it.
    return this.appendEvent(userId, `g|${this.nextMessageId()}`, { type: "group", group: change });
  }

  async recordReceipt(input: NewReceipt): Promise<RecordedReceipt | null> {
    const state = await this.conversationRow(input.conversationId, this.consistency.read);
    if (state === null) return null;
    const upToSeq = Math.min(input.upToSeq, state.lastSeq);
    // In a group, a read mark concerns the reader's own devices only.
    const recipients = groupOfConversation(input.conversationId) === null ? participantsOf(input.conversationId) : [input.userId];
    const key = `${input.conversationId}|${input.userId}|${input.kind}`;
    return this.receiptLocks.run(key, () => retryTransient(() => this.advanceMark(input, upToSeq, recipients)));
  }

  async readInbox(userId: UserId, after: number, limit: number): Promise<Page<InboxEvent>> {
    const head = await this.readHead(userId, this.consistency.read);
    if (head === null || head.cursor <= after) return { items: [], hasMore: false };
    const wanted = limit + 1;
    const items: InboxEvent[] = [];
    for (let bucket = inboxBucket(after + 1); items.length < wanted && bucket <= inboxBucket(head.cursor); bucket++) {
      const from = items.at(-1)?.cursor ?? after;
      const result = await this.execute(this.cql.eventsAfter, [userId, bucket, from, head.cursor, wanted - items.length], this.consistency.read);
      for (const row of result.rows) items.push(JSON.parse(textOf(row, "event")) as InboxEvent);
    }
    // The head's own row may not be written yet (its writer is under way or crashed): the
    // head holds the event.
    if (items.length < wanted && (items.at(-1)?.cursor ?? after) < head.cursor) items.push(head.event);
    return { items: items.slice(0, limit), hasMore: items.length > limit };
  }

  async readConversation(conversationId: ConversationId, range: { before?: number; after?: number }, limit: number): Promise<Page<Message>> {
    const state = await this.conversationRow(conversationId, this.consistency.read);
    if (state === null) return { items: [], hasMore: false };
    const wanted = limit + 1;
    const items: Message[] = [];
    if (range.after !== undefined) {
      for (let bucket = messageBucket(range.after + 1); items.length < wanted && bucket <= messageBucket(state.lastSeq); bucket++) {
        const from = items.at(-1)?.seq ?? range.after;
        const result = await this.execute(this.cql.messagesAfter, [conversationId, bucket, from, wanted - items.length], this.consistency.read);
        for (const row of result.rows) items.push(JSON.parse(textOf(row, "message")) as Message);
      }
    } else {
      const top = Math.min(range.before === undefined ? state.lastSeq : range.before - 1, state.lastSeq);
      for (let bucket = messageBucket(top); items.length < wanted && top >= 1 && bucket >= 0; bucket--) {
        const upTo = (items.at(-1)?.seq ?? top + 1) - 1;
        const result = await this.execute(this.cql.messagesUpTo, [conversationId, bucket, upTo, wanted - items.length], this.consistency.read);
        for (const row of result.rows) items.push(JSON.parse(textOf(row, "message")) as Message);
      }
    }
    return { items: items.slice(0, limit), hasMore: items.length > limit };
  }

  async conversationStates(userId: UserId, conversationIds: readonly ConversationId[]): Promise<Map<ConversationId, ConversationState>> {
    const unique = [...new Set(conversationIds)];
    const states = await Promise.all(
      unique.map(async (conversationId): Promise<[ConversationId, ConversationState]> => {
        const [conversation, mark] = await Promise.all([
          this.conversationRow(conversationId, this.consistency.read),
          this.execute(this.cql.mark, [conversationId, userId, "read"], this.consistency.read),
        ]);
        const row = mark.rows[0];
        return [conversationId, { lastSeq: conversation?.lastSeq ?? 0, readSeq: row ? (optionalBigintOf(row, "up_to_seq") ?? 0) : 0 }];
      }),
    );
    return new Map(states);
  }

  async directSenders(conversationIds: readonly ConversationId[]): Promise<Map<ConversationId, Set<UserId>>> {
    const unique = [...new Set(conversationIds)];
    const senders = await Promise.all(
      unique.map(async (conversationId): Promise<[ConversationId, Set<UserId>]> => {
        if (directParticipants(conversationId) === null) return [conversationId, new Set()];
        const result = await this.execute(this.cql.directSenders, [conversationId], this.consistency.read);
        return [conversationId, new Set(result.rows.map((row) => textOf(row, "sender_id")))];
      }),
    );
    return new Map(senders);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await this.client.shutdown();
  }

  // ---- appends ---------------------------------------------------------------

  private append(
    conversationId: ConversationId,
    input: NewDirectMessage | NewGroupMessage,
    target: Pick<Message, "recipientId" | "groupId">,
    participants: UserId[],
  ): Promise<AppendedMessage> {
    return this.conversationLocks.run(conversationId, async () => {
      // Chosen once: a re-run after a timeout recognises its own claim by this id.
      const candidateId = this.nextMessageId(input.sentAt.getTime());
      return retryTransient(() => this.appendOnce(conversationId, input, target, participants, candidateId));
    });
  }

  private async appendOnce(
    conversationId: ConversationId,
    input: NewDirectMessage | NewGroupMessage,
    target: Pick<Message, "recipientId" | "groupId">,
    participants: UserId[],
    candidateId: string,
  ): Promise<AppendedMessage> {
    const body = JSON.stringify(input.body);
    // Step 1: claim the idempotency row.
    const claim = lwtOutcome(
      await this.executeLwt(this.cql.claimClientMessage, [input.senderId, input.clientMessageId, conversationId, candidateId, body]),
    );
    let messageId = candidateId;
    // first: this call's claim (now or in an attempt that timed out) is the one that stands.
    let first = true;
    if (!claim.applied && claim.row) {
      messageId = textOf(claim.row, "message_id");
      if (messageId !== candidateId) {
        if (textOf(claim.row, "conversation_id") !== conversationId || textOf(claim.row, "body") !== body) {
          throw new ClientMessageIdConflictError(input.clientMessageId);
        }
        first = false;
        const stored = optionalTextOf(claim.row, "message");
        if (stored !== null) return { message: JSON.parse(stored) as Message, duplicate: true, events: [] };
      }
    }
    const draft = (seq: number): PendingAppend => ({
      message: {
        messageId,
        conversationId,
        seq,
        senderId: input.senderId,
        senderDeviceId: input.senderDeviceId,
        ...target,
        clientMessageId: input.clientMessageId,
        body: input.body,
        sentAt: input.sentAt.toISOString(),
      },
      participants,
    });
    const { message, events } = await this.sequence(conversationId, input, messageId, { first, fresh: claim.applied }, draft);
    return first ? { message, duplicate: false, events } : { message, duplicate: true, events: [] };
  }

  /** Step 2: the message's seq, taken now or found (with its appends completed: step 3). */
  private async sequence(
    conversationId: ConversationId,
    input: NewDirectMessage | NewGroupMessage,
    messageId: string,
    claim: { first: boolean; fresh: boolean },
    draft: (seq: number) => PendingAppend,
  ): Promise<{ message: Message; events: AppendedEvent[] }> {
    // Uncontended case: this process completed the conversation's last append, and a send
    // claimed by this very call cannot have a seq yet: one transaction, no read. The
    // `pending` that append left is replaced here, as the condition proves it is the one
    // this process completed.
    const known = this.knownLastSeq.get(conversationId);
    if (claim.fresh && known !== undefined) {
      const pending = draft(known.seq + 1);
      const json = JSON.stringify(pending);
      const outcome =
        known.pending === null
          ? await this.executeLwt(this.cql.nextSeq, [known.seq + 1, json, conversationId, known.seq])
          : await this.executeLwt(this.cql.nextSeqAfterCompleted, [known.seq + 1, json, conversationId, known.seq, known.pending]);
      if (lwtOutcome(outcome).applied) {
        return { message: pending.message, events: await this.complete(conversationId, pending, json, { clear: false }) };
      }
      this.knownLastSeq.delete(conversationId);
    }
    for (let attempt = 1; ; attempt++) {
      const state = await this.conversationRow(conversationId, this.consistency.serial);
      if (state?.pending) {
        const pending = JSON.parse(state.pending) as PendingAppend;
        // Found, not taken here: cleared, as the next append may come from anyone.
        const events = await this.complete(conversationId, pending, state.pending, { clear: true });
        if (pending.message.messageId === messageId) return { message: pending.message, events };
        continue; // that was another append: now take the next seq
      }
      // Nothing pending: was this send completed already (by a retry elsewhere)? Read after
      // the conversation, as the idempotency row is completed before `pending` is cleared.
      const stored = await this.execute(this.cql.clientMessage, [input.senderId, input.clientMessageId], this.consistency.read);
      const storedJson = stored.rows[0] ? optionalTextOf(stored.rows[0], "message") : null;
      if (storedJson !== null) {
        const message = JSON.parse(storedJson) as Message;
        return { message, events: claim.first ? await this.recordedEvents(message, draft(message.seq).participants) : [] };
      }
      const lastSeq = state?.lastSeq ?? 0;
      const pending = draft(lastSeq + 1);
      const json = JSON.stringify(pending);
      const outcome =
        state === null
          ? await this.executeLwt(this.cql.firstSeq, [conversationId, lastSeq + 1, json])
          : await this.executeLwt(this.cql.nextSeq, [lastSeq + 1, json, conversationId, lastSeq]);
      if (outcome.wasApplied()) return { message: pending.message, events: await this.complete(conversationId, pending, json, { clear: false }) };
      if (attempt >= MAX_ATTEMPTS) throw new Error(`could not take a seq in ${conversationId} after ${attempt} attempts`);
    }
  }

  /**
   * Step 3: the remaining writes of a pending append; anyone may run them, any number of
   * times. `clear: false` leaves the completed `pending` (unless it is large) in the row
   * for this process's next append to replace (one transaction fewer per send); another
   * writer that finds it completes it again, which changes nothing, and clears it.
   */
  private async complete(conversationId: ConversationId, pending: PendingAppend, json: string, { clear }: { clear: boolean }): Promise<AppendedEvent[]> {
    const { message } = pending;
    await Promise.all([
      this.execute(this.cql.insertMessage, [conversationId, messageBucket(message.seq), message.seq, JSON.stringify(message)], this.consistency.write),
      // Before the inbox events: once the recipient can see the message, presence counts it.
      message.recipientId === undefined
        ? undefined
        : this.execute(this.cql.insertDirectSender, [conversationId, message.senderId], this.consistency.write),
    ]);
    // Each participant's inbox has its own counter, so they are appended to side by side.
    const events = await Promise.all(pending.participants.map((userId) => this.appendEvent(userId, messageEventId(message), { type: "message", message })));
    await this.execute(this.cql.completeClientMessage, [JSON.stringify(message), message.senderId, message.clientMessageId], this.consistency.write);
    // A large message is cleared as before rather than remembered: the map holds up to
    // 10,000 conversations, and their pending texts must not cost tens of megabytes.
    const leave = !clear && json.length <= REMEMBERED_PENDING_MAX_CHARS;
    if (!leave) await this.executeLwt(this.cql.clearPending, [conversationId, json]);
    this.knownLastSeq.set(conversationId, { seq: message.seq, pending: leave ? json : null });
    return events;
  }

  /** The inbox events of a completed message, from the cursors recorded on it. */
  private async recordedEvents(message: Message, participants: UserId[]): Promise<AppendedEvent[]> {
    const result = await this.execute(this.cql.messageCursors, [message.conversationId, messageBucket(message.seq), message.seq], this.consistency.read);
    const cursors = result.rows[0] ? bigintMapOf(result.rows[0], "inbox_cursors") : new Map<string, number>();
    return participants.map((userId) => {
      const cursor = cursors.get(userId);
      if (cursor === undefined) throw new Error(`message ${message.messageId} is complete but has no inbox cursor for ${userId}`);
      return { userId, event: { cursor, type: "message", message } };
    });
  }

  // ---- receipts --------------------------------------------------------------

  private async advanceMark(input: NewReceipt, upToSeq: number, recipients: UserId[]): Promise<RecordedReceipt> {
    const keys = [input.conversationId, input.userId, input.kind] as const;
    const markKey = keys.join("|");
    for (let attempt = 1; ; attempt++) {
      const result = await this.execute(this.cql.mark, [...keys], this.consistency.serial);
      const row = result.rows[0];
      const pendingJson = row ? optionalTextOf(row, "pending") : null;
      // A `pending` this process completed and left in place is replaced below, not cleared.
      const completedHere = pendingJson !== null && this.knownMarkPending.get(markKey) === pendingJson;
      if (pendingJson !== null && !completedHere) {
        // Another receipt's events are still to be appended: finish it first.
        await this.completeReceipt(markKey, JSON.parse(pendingJson) as PendingReceipt, pendingJson, { clear: true });
        continue;
      }
      const previous = row ? (optionalBigintOf(row, "up_to_seq") ?? 0) : 0;
      const receipt: Receipt = {
        conversationId: input.conversationId,
        userId: input.userId,
        kind: input.kind,
        upToSeq: Math.max(upToSeq, previous),
        at: input.at.toISOString(),
      };
      if (upToSeq <= previous) return { receipt, changed: false, events: [] };
      const pending: PendingReceipt = { receipt, recipients };
      const json = JSON.stringify(pending);
      const outcome = !row
        ? await this.executeLwt(this.cql.firstMark, [...keys, upToSeq, json])
        : completedHere
          ? await this.executeLwt(this.cql.nextMarkAfterCompleted, [upToSeq, json, ...keys, previous, pendingJson])
          : await this.executeLwt(this.cql.nextMark, [upToSeq, json, ...keys, previous]);
      if (outcome.wasApplied()) return { receipt, changed: true, events: await this.completeReceipt(markKey, pending, json, { clear: false }) };
      this.knownMarkPending.delete(markKey);
      if (attempt >= MAX_ATTEMPTS) throw new Error(`could not record a receipt in ${input.conversationId} after ${attempt} attempts`);
    }
  }

  /** Appends a recorded receipt's events; `clear` as for `complete`. */
  private async completeReceipt(markKey: string, pending: PendingReceipt, json: string, { clear }: { clear: boolean }): Promise<AppendedEvent[]> {
    const { receipt } = pending;
    const events = await Promise.all(pending.recipients.map((userId) => this.appendEvent(userId, receiptEventId(receipt), { type: "receipt", receipt })));
    if (clear) {
      await this.executeLwt(this.cql.clearMarkPending, [receipt.conversationId, receipt.userId, receipt.kind, json]);
      this.knownMarkPending.delete(markKey);
    } else {
      this.knownMarkPending.set(markKey, json);
    }
    return events;
  }

  // ---- inboxes ---------------------------------------------------------------

  /**
   * Appends an event to an inbox exactly once per event id: when the event is already
   * there (an earlier attempt or another process got that far), returns where it is.
   */
  private appendEvent(userId: UserId, eventId: string, event: NewInboxEvent): Promise<AppendedEvent> {
    return this.inboxLocks.run(userId, () =>
      retryTransient(async () => {
        const known = this.knownHeads.get(userId);
        if (known) {
          // Uncontended case: the head is still the one this process claimed last, so the
          // event is not the head; it could only be an older, displaced (recorded) event.
          if (known.eventId === eventId) {
            const full: InboxEvent = { ...event, cursor: known.cursor };
            await this.settle(userId, { cursor: known.cursor, eventId, event: full });
            return { userId, event: full };
          }
          const recorded = await this.recordedCursor(userId, eventId);
          if (recorded !== null) return { userId, event: { ...event, cursor: recorded } };
          const claimed = await this.claimCursor(userId, known.cursor, eventId, event);
          if (claimed) return claimed;
        }
        for (let attempt = 1; ; attempt++) {
          const head = await this.readHead(userId, this.consistency.serial);
          if (head?.eventId === eventId) {
            await this.settle(userId, head);
            this.knownHeads.set(userId, { cursor: head.cursor, eventId });
            return { userId, event: head.event };
          }
          // Read after the head: an event displaced before that read was recorded before.
          const recorded = await this.recordedCursor(userId, eventId);
          if (recorded !== null) return { userId, event: { ...event, cursor: recorded } };
          if (head) await this.settle(userId, head);
          const claimed = await this.claimCursor(userId, head?.cursor ?? 0, eventId, event);
          if (claimed) return claimed;
          if (attempt >= MAX_ATTEMPTS) throw new Error(`could not append to the inbox of ${userId} after ${attempt} attempts`);
        }
      }),
    );
  }

  /** Takes cursor `previous + 1` for the event if the head is still at `previous`. */
  private async claimCursor(userId: UserId, previous: number, eventId: string, event: NewInboxEvent): Promise<AppendedEvent | null> {
    const cursor = previous + 1;
    const full: InboxEvent = { ...event, cursor };
    const json = JSON.stringify(full);
    const outcome =
      previous === 0
        ? await this.executeLwt(this.cql.firstCursor, [userId, cursor, eventId, json])
        : await this.executeLwt(this.cql.nextCursor, [cursor, eventId, json, userId, previous]);
    if (!outcome.wasApplied()) {
      this.knownHeads.delete(userId);
      return null;
    }
    this.knownHeads.set(userId, { cursor, eventId });
    await this.settle(userId, { cursor, eventId, event: full });
    return { userId, event: full };
  }

  /** Writes the head's event row and records its cursor with its owner (both idempotent). */
  private async settle(userId: UserId, head: Head): Promise<void> {
    await Promise.all([
      this.execute(this.cql.insertEvent, [userId, inboxBucket(head.cursor), head.cursor, head.eventId, JSON.stringify(head.event)], this.consistency.write),
      this.recordCursor(userId, head.eventId, head.cursor),
    ]);
  }

  private async recordCursor(userId: UserId, eventId: string, cursor: number): Promise<void> {
    const owner = ownerOf(eventId);
    if (owner.type === "message") {
      await this.execute(this.cql.recordMessageCursor, [userId, cursor, owner.conversationId, messageBucket(owner.seq), owner.seq], this.consistency.write);
    } else if (owner.type === "receipt") {
      await this.execute(
        this.cql.recordReceiptCursor,
        [userId, cursor, owner.conversationId, owner.userId, owner.kind, owner.upToSeq],
        this.consistency.write,
      );
    }
  }

  private async recordedCursor(userId: UserId, eventId: string): Promise<number | null> {
    const owner = ownerOf(eventId);
    let result: types.ResultSet;
    if (owner.type === "message") {
      result = await this.execute(this.cql.messageCursors, [owner.conversationId, messageBucket(owner.seq), owner.seq], this.consistency.read);
    } else if (owner.type === "receipt") {
      result = await this.execute(this.cql.receiptCursors, [owner.conversationId, owner.userId, owner.kind, owner.upToSeq], this.consistency.read);
    } else {
      return null; // membership changes are appended by a single transaction, never redone
    }
    const row = result.rows[0];
    return row ? (bigintMapOf(row, "inbox_cursors").get(userId) ?? null) : null;
  }

  private async readHead(userId: UserId, consistency: types.consistencies): Promise<Head | null> {
    const row = (await this.execute(this.cql.head, [userId], consistency)).rows[0];
    if (!row) return null;
    return {
      cursor: bigintOf(row, "last_cursor"),
      eventId: textOf(row, "last_event_id"),
      event: JSON.parse(textOf(row, "last_event")) as InboxEvent,
    };
  }

  // ---- plumbing --------------------------------------------------------------

  private async conversationRow(conversationId: ConversationId, consistency: types.consistencies): Promise<{ lastSeq: number; pending: string | null } | null> {
    const row = (await this.execute(this.cql.conversation, [conversationId], consistency)).rows[0];
    return row ? { lastSeq: bigintOf(row, "last_seq"), pending: optionalTextOf(row, "pending") } : null;
  }

  private execute(query: string, params: unknown[], consistency: types.consistencies): Promise<types.ResultSet> {
    return settleWithin(this.client.execute(query, params, { prepare: true, consistency }));
  }

  private executeLwt(query: string, params: unknown[]): Promise<types.ResultSet> {
    return settleWithin(this.client.execute(query, params, { prepare: true, consistency: this.consistency.write, serialConsistency: this.consistency.serial }));
  }
}

/** Attempts per lightweight-transaction loop before giving up (each loss means progress elsewhere). */
const MAX_ATTEMPTS = 1000;
/** The longest completed `pending` a process remembers to replace rather than clear (most texts fit). */
const REMEMBERED_PENDING_MAX_CHARS = 2048;

/** A message whose seq is taken and whose other writes may be incomplete. */
interface PendingAppend {
  message: Message;
  /** Whose inboxes get an event (none for a group message). */
  participants: UserId[];
}

interface PendingReceipt {
  receipt: Receipt;
  recipients: UserId[];
}

interface Head {
  cursor: number;
  eventId: string;
  event: InboxEvent;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type NewInboxEvent = DistributiveOmit<InboxEvent, "cursor">;

/**
 * Inbox event ids name the record that remembers where the event landed:
 *   m|<conversationId>|<seq>                          a message (its row's inbox_cursors)
 *   r|<conversationId>|<userId>|<kind>|<upToSeq>      a receipt (receipt_events)
 *   g|<ulid>                                          a membership change (not recorded)
 * ('|' occurs in no user or conversation id.)
 */
function messageEventId(message: Message): string {
  return `m|${message.conversationId}|${message.seq}`;
}

function receiptEventId(receipt: Receipt): string {
  return `r|${receipt.conversationId}|${receipt.userId}|${receipt.kind}|${receipt.upToSeq}`;
}

type EventOwner =
  | { type: "message"; conversationId: ConversationId; seq: number }
  | { type: "receipt"; conversationId: ConversationId; userId: UserId; kind: ReceiptKind; upToSeq: number }
  | { type: "none" };

function ownerOf(eventId: string): EventOwner {
  const parts = eventId.split("|");
  if (parts[0] === "m" && parts.length === 3) return { type: "message", conversationId: parts[1] ?? "", seq: Number(parts[2]) };
  if (parts[0] === "r" && parts.length === 5) {
    return { type: "receipt", conversationId: parts[1] ?? "", userId: parts[2] ?? "", kind: parts[3] as ReceiptKind, upToSeq: Number(parts[4]) };
  }
  return { type: "none" };
}

function messageBucket(seq: number): number {
  return Math.floor(seq / MESSAGE_BUCKET_SIZE);
}

function inboxBucket(cursor: number): number {
  return Math.floor(cursor / INBOX_BUCKET_SIZE);
}

/** Both participants, once each (a note to self has one). */
function participantsOf(conversationId: ConversationId): UserId[] {
  const participants = directParticipants(conversationId);
  if (participants === null) throw new Error(`not a direct conversation: ${conversationId}`);
  return participants[0] === participants[1] ? [participants[0]] : participants;
}
