import { z } from "zod";
import { ConversationId, DeviceId, UserId } from "../protocol/ids.js";

/**
 * What gateways publish on the activity topic (key: user id) for the presence service
 * and the group fan-out's activity scores. Validated on receipt: it crossed a bus.
 */
export const ActivityEvent = z.object({
  userId: UserId,
  deviceId: DeviceId,
  connectionId: z.string(),
  gatewayId: z.string(),
  kind: z.enum(["connect", "disconnect", "heartbeat", "typing", "send", "read"]),
  /** Epoch milliseconds. */
  at: z.number(),
  /** For typing: where. */
  conversationId: ConversationId.optional(),
  /**
   * How many activities of this kind the event stands for: a connection's sends (or reads)
   * of one turn of the gateway's event loop are published as one event. 1 when absent, as
   * gateways before this field sent them; a groups process from before it reads any event
   * as one activity, so during a rolling upgrade a busy sender's score rises more slowly.
   */
  count: z.number().int().min(1).max(100_000).optional(),
});
export type ActivityEvent = z.infer<typeof ActivityEvent>;
export type ActivityKind = ActivityEvent["kind"];
