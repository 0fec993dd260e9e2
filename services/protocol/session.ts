import type { DeviceId, UserId } from "./ids.js";
import type { ClientFrame } from "./frames.js";

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
