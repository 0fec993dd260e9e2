import type { DeviceId, UserId } from "../protocol/ids.js";
import type { ClientFrame, ServerFrame } from "../protocol/frames.js";

/** Who is on the other end of a connection, as established by the upgrade. */
export interface Session {
  userId: UserId;
  deviceId: DeviceId;
  connectionId: string;
  gatewayId: string;
}

/** Frames the gateway answers itself: liveness and activity, no service involved. */
export type GatewayFrame = Extract<ClientFrame, { type: "ping" | "typing" }>;
/** Frames the gateway hands to the services. */
export type ServiceFrame = Exclude<ClientFrame, GatewayFrame>;
export type ServiceFrameType = ServiceFrame["type"];

/**
 * Where the gateway hands client frames: the services behind it. The gateway routes
 * nothing itself; it validates a frame, passes it here and writes back the reply.
 * Throwing a ProtocolError yields an error frame with that code.
 */
export interface FrameHandler {
  handle(session: Session, frame: ServiceFrame): Promise<ServerFrame>;
}
