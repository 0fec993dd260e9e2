import { z } from "zod";
import type { InboxEvent } from "../protocol/frames.js";

/**
 * What the chat service publishes on a gateway's delivery topic: an inbox event for
 * some of that gateway's connections. Validated on receipt because it crossed a bus.
 */
export const DeliveryEnvelope = z.object({
  connectionIds: z.array(z.string()).min(1),
  userId: z.string(),
  /** Epoch milliseconds when the event was stored, for the delivery latency metric. */
  storedAt: z.number(),
  event: z.custom<InboxEvent>((value) => typeof value === "object" && value !== null && "cursor" in value && "type" in value),
});
export type DeliveryEnvelope = z.infer<typeof DeliveryEnvelope>;
