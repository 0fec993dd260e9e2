import type { FrameHandler } from "../ports/frame-handler.js";
import type { ServiceFrame, Session } from "../protocol/session.js";
import type { ClientFrameOf, ServerFrame } from "../protocol/frames.js";
import type { ChatService } from "./chat-service.js";

export const CHAT_FRAME_TYPES = ["send", "receipt", "sync", "history"] as const;
type ChatFrame = ClientFrameOf<(typeof CHAT_FRAME_TYPES)[number]>;

/** Maps conversation frames to chat service calls and their results to reply frames. */
export class ChatFrameHandler implements FrameHandler {
  constructor(private readonly chat: ChatService) {}

  async handle(session: Session, serviceFrame: ServiceFrame): Promise<ServerFrame> {
    const frame = serviceFrame as ChatFrame;
    switch (frame.type) {
      case "send": {
        const { message, duplicate } = await this.chat.send(session, frame.to, frame.clientMessageId, frame.body);
        return { type: "ack", id: frame.id, message, duplicate };
      }
      case "receipt": {
        const { receipt, changed } = await this.chat.receipt(session.userId, frame.conversationId, frame.kind, frame.upToSeq);
        return { type: "receipt.ok", id: frame.id, receipt, changed };
      }
      case "sync": {
        const page = await this.chat.sync(session.userId, frame.after, frame.limit);
        const cursor = page.items.at(-1)?.cursor ?? frame.after;
        return { type: "sync.batch", id: frame.id, events: page.items, cursor, hasMore: page.hasMore };
      }
      case "history": {
        const range = frame.after !== undefined ? { after: frame.after } : frame.before !== undefined ? { before: frame.before } : {};
        const page = await this.chat.history(session.userId, frame.conversationId, range, frame.limit);
        return { type: "history.page", id: frame.id, conversationId: frame.conversationId, messages: page.items, hasMore: page.hasMore };
      }
    }
  }
}
