import type { FrameHandler, Session } from "../gateway/session.js";
import type { ClientFrame, ServerFrame } from "../protocol/frames.js";
import type { ChatService } from "./chat-service.js";

/** Maps client frames to chat service calls and their results to reply frames. */
export class ChatFrameHandler implements FrameHandler {
  constructor(private readonly chat: ChatService) {}

  async handle(session: Session, frame: Exclude<ClientFrame, { type: "ping" }>): Promise<ServerFrame> {
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
        const page = await this.chat.history(session.userId, frame.conversationId, frame.before, frame.limit);
        return { type: "history.page", id: frame.id, conversationId: frame.conversationId, messages: page.items, hasMore: page.hasMore };
      }
    }
  }
}
