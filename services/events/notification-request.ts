import { z } from "zod";

/**
 * The most recipients one notification request names. A message to a huge group with
 * most members offline becomes a few requests of this size, so one request stays a
 * small Kafka record and one bounded piece of work for a notifier.
 */
export const MAX_NOTIFICATION_RECIPIENTS = 1_000;

/**
 * What goes on the notification topic for the recipients of one message who are offline:
 * the fan-out's for a group's offline members (one request per message, or a few for a
 * huge group), the chat service's for the recipient of a direct message. The notifier
 * turns it into one `Notification` per recipient it does not rate-limit.
 */
const AboutMessage = z.object({
  /** Absent for a direct message. */
  groupId: z.string().optional(),
  conversationId: z.string(),
  messageId: z.string(),
  senderId: z.string(),
  seq: z.number(),
});

export const NotificationRequest = z.union([
  AboutMessage.extend({ userIds: z.array(z.string()).min(1).max(MAX_NOTIFICATION_RECIPIENTS) }),
  // A request of the previous release, one per recipient: read during a rolling upgrade,
  // when the new notifiers already run and old producers still publish.
  AboutMessage.extend({ userId: z.string() }).transform(({ userId, ...about }) => ({ ...about, userIds: [userId] })),
]);
export type NotificationRequest = z.output<typeof NotificationRequest>;

/** One recipient's notification: what the notification sink (the webhook) gets. */
export type Notification = Omit<NotificationRequest, "userIds"> & { userId: string };

/** The requests naming `userIds` (split at MAX_NOTIFICATION_RECIPIENTS) about one message. */
export function notificationRequests(userIds: readonly string[], about: Omit<NotificationRequest, "userIds">): NotificationRequest[] {
  const requests: NotificationRequest[] = [];
  for (let i = 0; i < userIds.length; i += MAX_NOTIFICATION_RECIPIENTS) {
    requests.push({ ...about, userIds: userIds.slice(i, i + MAX_NOTIFICATION_RECIPIENTS) });
  }
  return requests;
}
