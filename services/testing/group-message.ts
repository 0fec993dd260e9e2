import type { Message } from "../protocol/frames.js";

/** A stored group message for tests: message `seq` of `groupId`, sent by olive's phone. */
export function groupMessage(
  seq: number,
  { groupId = "g01JZ0000000000000000000001", senderId = "olive", sentAt = 0, body = { text: `news ${String(seq)}` } }: { groupId?: string; senderId?: string; sentAt?: number; body?: Message["body"] } = {},
): Message {
  return {
    messageId: `m${String(seq)}`,
    conversationId: `grp:${groupId}`,
    groupId,
    seq,
    senderId,
    senderDeviceId: "phone",
    clientMessageId: `c${String(seq)}`,
    body,
    sentAt: new Date(sentAt).toISOString(),
  };
}
