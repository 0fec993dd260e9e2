/**
 * What a fault did to the messages of a scenario: from what the senders recorded (sent,
 * acked), what the recipients saw live, and the histories every member read at the end.
 * Pure, so the rules (what counts as lost, what as duplicated) are tested on their own.
 */
import type { Message } from "../protocol/frames.js";

/** One message a sender created, with everything it learnt about it. */
export interface SentMessage {
  clientMessageId: string;
  /** Direct messages reach a recipient through the inbox (live or by sync); group messages by push, or by reading the group's history, as a client catches up. */
  kind: "direct" | "group";
  senderId: string;
  /** Everyone else in the conversation: the recipient of a direct message, the other members of a group. */
  recipients: readonly string[];
  /** When the message was created (performance.now()), for its ack latency. */
  createdAtMs?: number;
  /** The stored message's id and conversation, from the ack; absent until an ack came. */
  ack?: { messageId: string; conversationId: string; atMs: number };
}

/** What one user saw of a scenario's messages. */
export interface Observed {
  /** clientMessageId → times it arrived: inbox events (live or synced) for direct messages, live pushes for groups. */
  received: ReadonlyMap<string, number>;
  /** conversationId → the whole history as this user read it at the end, oldest first. */
  histories: ReadonlyMap<string, readonly Message[]>;
}

export interface Verdict {
  sent: number;
  acked: number;
  /** Acked messages that reached every recipient while the traffic ran or by the final sync. */
  delivered: number;
  /** Acked messages present in the history of every member (sender and recipients). */
  inHistory: number;
  /** Acked messages absent from some member's history, or that some recipient never received. */
  lost: number;
  /** Messages stored more than once (two stored messages for one clientMessageId) or listed twice in one history. */
  duplicated: number;
  /** Stored although the sender never got the ack (the ack, not the message, was lost): not a failure. */
  storedUnacked: number;
  /** Examples of lost or duplicated messages, for the report. */
  examples: string[];
}

const MAX_EXAMPLES = 5;

export function check(sent: readonly SentMessage[], observed: ReadonlyMap<string, Observed>): Verdict {
  const verdict: Verdict = { sent: sent.length, acked: 0, delivered: 0, inHistory: 0, lost: 0, duplicated: 0, storedUnacked: 0, examples: [] };
  const note = (text: string): void => {
    if (verdict.examples.length < MAX_EXAMPLES) verdict.examples.push(text);
  };

  // Per user and conversation: clientMessageId → the stored messages' ids, and ids listed twice.
  const stored = new Map<string, Map<string, Set<string>>>();
  const listedTwice = new Set<string>();
  for (const [userId, seen] of observed) {
    for (const [conversationId, messages] of seen.histories) {
      const byClientId = new Map<string, Set<string>>();
      const ids = new Set<string>();
      for (const message of messages) {
        if (ids.has(message.messageId)) listedTwice.add(message.clientMessageId);
        ids.add(message.messageId);
        const set = byClientId.get(message.clientMessageId) ?? new Set<string>();
        set.add(message.messageId);
        byClientId.set(message.clientMessageId, set);
      }
      stored.set(`${userId}\u0000${conversationId}`, byClientId);
    }
  }

  for (const message of sent) {
    const members = [message.senderId, ...message.recipients];
    const storedIds = (userId: string, conversationId: string): Set<string> | undefined =>
      stored.get(`${userId}\u0000${conversationId}`)?.get(message.clientMessageId);

    const duplicate =
      listedTwice.has(message.clientMessageId) ||
      members.some((userId) => [...(observed.get(userId)?.histories.keys() ?? [])].some((conversationId) => (storedIds(userId, conversationId)?.size ?? 0) > 1));
    if (duplicate) {
      verdict.duplicated += 1;
      note(`duplicated: ${message.clientMessageId}`);
    }

    const ack = message.ack;
    if (ack === undefined) {
      const anywhere = members.some((userId) => [...(observed.get(userId)?.histories.keys() ?? [])].some((conversationId) => storedIds(userId, conversationId) !== undefined));
      if (anywhere) verdict.storedUnacked += 1;
      continue;
    }
    verdict.acked += 1;
    const inHistory = members.every((userId) => storedIds(userId, ack.conversationId)?.has(ack.messageId) === true);
    const delivered = message.recipients.every(
      (userId) =>
        (observed.get(userId)?.received.get(message.clientMessageId) ?? 0) > 0 ||
        (message.kind === "group" && storedIds(userId, ack.conversationId)?.has(ack.messageId) === true),
    );
    if (inHistory) verdict.inHistory += 1;
    if (delivered) verdict.delivered += 1;
    if (!inHistory || !delivered) {
      verdict.lost += 1;
      const missingFrom = members.filter((userId) => storedIds(userId, ack.conversationId)?.has(ack.messageId) !== true);
      note(`lost: ${message.clientMessageId} (${missingFrom.length > 0 ? `not in the history of ${missingFrom.join(", ")}` : "never delivered"})`);
    }
  }
  return verdict;
}
