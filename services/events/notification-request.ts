import { z } from "zod";

/** What the fan-out publishes on the notification topic for a member who is offline. */
export const NotificationRequest = z.object({
  userId: z.string(),
  groupId: z.string(),
  conversationId: z.string(),
  messageId: z.string(),
  senderId: z.string(),
  seq: z.number(),
});
export type NotificationRequest = z.infer<typeof NotificationRequest>;
