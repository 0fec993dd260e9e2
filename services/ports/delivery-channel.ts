import type { JsonValue } from "./event-bus.js";

/**
 * Carries frames to the one gateway that holds a connection (Redis pub/sub in
 * production). At most once and in order per gateway: what is lost here is only a live
 * push, since everything durable is also in the store for the next sync. A gateway
 * listens on its own id only.
 */
export interface DeliveryChannel {
  send(gatewayId: string, envelope: JsonValue): Promise<void>;
  /** Resolves once envelopes sent after it will reach `handler`. */
  listen(gatewayId: string, handler: (envelope: JsonValue) => void): Promise<{ stop(): Promise<void> }>;
  close(): Promise<void>;
}
