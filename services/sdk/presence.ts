import type { LastSeenVisibility, PresenceView } from "../protocol/frames.js";
import type { Requester } from "./replies.js";

/** Presence and typing (docs/protocol.md section 18); reach them as `client.presence`. */
export class PresenceApi {
  constructor(private readonly request: Requester) {}

  /** Watches users: resolves with their state now; changes arrive as `presence` events. */
  async subscribe(users: string[]): Promise<PresenceView[]> {
    return (await this.request({ type: "presence.subscribe", users })).users;
  }

  async unsubscribe(users: string[]): Promise<void> {
    await this.request({ type: "presence.unsubscribe", users });
  }

  /** Who may see whether you are online and when you were last seen. */
  async setLastSeenVisibility(visibility: LastSeenVisibility): Promise<void> {
    await this.request({ type: "settings.set", lastSeenVisibility: visibility });
  }

  /** Tells the conversation's other participants you are typing; send it again every few seconds while you are. */
  async typing(conversationId: string): Promise<void> {
    await this.request({ type: "typing", conversationId });
  }
}
