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
});
export type ActivityEvent = z.infer<typeof ActivityEvent>;
export type ActivityKind = ActivityEvent["kind"];
