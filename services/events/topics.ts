import type { z } from "zod";
import type { GroupId } from "../protocol/ids.js";
import { ActivityEvent } from "./activity-event.js";
import { topicPrefix } from "./cluster-names.js";
import { FrameRequest } from "./frame-request.js";
import { GroupMessageEvent } from "./group-message-event.js";
import { NotificationRequest } from "./notification-request.js";
import type { ServiceName } from "./service-names.js";

/**
 * A bus topic with the schema of what travels on it. Publishers are held to the type;
 * subscribers validate with the schema, since what crossed a bus may come from an older
 * or newer process.
 */
export interface Topic<T> {
  readonly name: string;
  readonly schema: z.ZodType<T>;
}

/** Every topic whose name starts with `prefix` (the one-topic-per-group topics), one schema for all. */
export interface TopicFamily<T> {
  readonly prefix: string;
  readonly schema: z.ZodType<T>;
}

/** Connects, disconnects, heartbeats, typing, sends and reads, keyed by user. */
export function activityTopic(clusterName: string): Topic<ActivityEvent> {
  return { name: `${topicPrefix(clusterName)}activity`, schema: ActivityEvent };
}

/** Notification requests for offline users, for the push-provider webhook. */
export function notificationTopic(clusterName: string): Topic<NotificationRequest> {
  return { name: `${topicPrefix(clusterName)}notifications`, schema: NotificationRequest };
}

/** One topic per group: its stored messages, in order, for the fan-out consumers. */
export function groupTopic(clusterName: string, groupId: GroupId): Topic<GroupMessageEvent> {
  return { name: `${groupTopics(clusterName).prefix}${groupId}`, schema: GroupMessageEvent };
}

export function groupTopics(clusterName: string): TopicFamily<GroupMessageEvent> {
  return { prefix: `${topicPrefix(clusterName)}group.`, schema: GroupMessageEvent };
}

/** Client frames a gateway hands to the service that owns them (see FRAME_OWNERS). */
export function requestTopic(clusterName: string, service: ServiceName): Topic<FrameRequest> {
  return { name: `${topicPrefix(clusterName)}requests.${service}`, schema: FrameRequest };
}

/**
 * The delivery channel id on which a gateway receives replies to the requests it sent.
 * Gateway ids cannot contain a colon, so this never names a gateway's own channel.
 */
export function replyChannel(gatewayId: string): string {
  return `replies:${gatewayId}`;
}

/**
 * Consumer groups by role: the processes of one role share a group and split the
 * topic's keys; different roles each get every event. The fan-out's activity reader is
 * the exception: each groups process reads every activity event under a group of its
 * own, because the group topics split groups, not users, so whichever process fans out
 * a group needs every member's activity score (docs/adr/0011-replica-state.md).
 */
export const CONSUMER_GROUPS = {
  presence: "presence",
  notifier: "notifier",
  fanout: "fanout",
  fanoutActivity: (processId: string) => `fanout-activity.${processId}`,
  frameRequests: (service: ServiceName) => `service-${service}`,
} as const;
