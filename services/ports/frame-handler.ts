import type { ServerFrame } from "../protocol/frames.js";
import type { ServiceFrame, Session } from "../protocol/session.js";

/**
 * Where the gateway hands client frames: the services behind it. The gateway routes
 * nothing itself; it validates a frame, passes it here and writes back the reply.
 * Throwing a ProtocolError yields an error frame with that code.
 */
export interface FrameHandler {
  handle(session: Session, frame: ServiceFrame): Promise<ServerFrame>;
}
