import type { DeviceId, UserId } from "../protocol/ids.js";
import type { ClientFrame, ServerFrame } from "../protocol/frames.js";

/** Who is on the other end of a connection, as established by the upgrade. */
export interface Session {
  userId: UserId;
  deviceId: DeviceId;
  connectionId: string;
}

/**
 * Where the gateway hands client frames: the services behind it. The gateway routes
 * nothing itself; it validates a frame, passes it here and writes back the reply.
 * Throwing a ProtocolError yields an error frame with that code.
 */
export interface FrameHandler {
  handle(session: Session, frame: Exclude<ClientFrame, { type: "ping" }>): Promise<ServerFrame>;
}
