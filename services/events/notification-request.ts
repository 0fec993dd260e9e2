import { z } from "zod";

/**
 * What goes on the notification topic for a recipient who is offline: the fan-out's for a
 * group member, the chat service's for the recipient of a direct message.
 */
export const NotificationRequest = z.object({
  userId: z.string(),
  /** Absent for a direct message. */
  groupId: z.string().optional(),
  conversationId: z.string(),
  messageId: z.string(),
  senderId: z.string(),
  seq: z.number(),
});
export type NotificationRequest = z.infer<typeof NotificationRequest>;
