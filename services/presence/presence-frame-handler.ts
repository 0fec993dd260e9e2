import type { FrameHandler } from "../ports/frame-handler.js";
import type { ServiceFrame, Session } from "../protocol/session.js";
import type { ClientFrameOf, ServerFrame } from "../protocol/frames.js";
import type { PresenceService } from "./presence-service.js";

export const PRESENCE_FRAME_TYPES = ["presence.subscribe", "presence.unsubscribe", "settings.set"] as const;
type PresenceFrame = ClientFrameOf<(typeof PRESENCE_FRAME_TYPES)[number]>;

/** Maps presence subscriptions and settings frames to presence service calls. */
export class PresenceFrameHandler implements FrameHandler {
  constructor(private readonly presence: PresenceService) {}

  async handle(session: Session, serviceFrame: ServiceFrame): Promise<ServerFrame> {
    const frame = serviceFrame as PresenceFrame;
    switch (frame.type) {
      case "presence.subscribe":
        return { type: "presence.state", id: frame.id, users: await this.presence.subscribe(session, frame.users) };
      case "presence.unsubscribe":
        await this.presence.unsubscribe(session, frame.users);
        return { type: "ok", id: frame.id };
      case "settings.set":
        await this.presence.setLastSeenVisibility(session.userId, frame.lastSeenVisibility);
        return { type: "ok", id: frame.id };
    }
  }
}
