import { z } from "zod";
import type { PushFrame } from "../protocol/frames.js";

const PUSH_TYPES = new Set(["event", "group.messages", "presence", "typing"]);

/**
 * What services send on a gateway's delivery channel: a frame to push to some of that
 * gateway's connections. Validated on receipt because it crossed a bus.
 */
export const DeliveryEnvelope = z.object({
  connectionIds: z.array(z.string()).min(1),
  /** Epoch milliseconds when the content was stored, for the delivery latency metric; absent for ephemeral frames. */
  storedAt: z.number().optional(),
  frame: z.custom<PushFrame>((value) => typeof value === "object" && value !== null && "type" in value && PUSH_TYPES.has(String(value.type))),
});
export type DeliveryEnvelope = z.infer<typeof DeliveryEnvelope>;
