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
  /** Members known from the start: a subscription creates them first, so it reads them from their beginning with no pick-up delay. */
  readonly known?: readonly string[];
}

/** Connects, disconnects, heartbeats, typing, sends and reads, keyed by user. */
export function activityTopic(clusterName: string): Topic<ActivityEvent> {
  return { name: `${topicPrefix(clusterName)}activity`, schema: ActivityEvent };
}

/** Notification requests for offline users, for the push-provider webhook. */
export function notificationTopic(clusterName: string): Topic<NotificationRequest> {
  return { name: `${topicPrefix(clusterName)}notifications`, schema: NotificationRequest };
}

/**
 * Where group messages travel (PARLEY_GROUP_TOPICS): "per-group", a topic of each group's
 * own, or a number of shared topics, each group on one of them by a stable hash of its id
 * and keyed by it, so one group's messages keep their order. A topic per group costs the
 * brokers heap, open files and memory maps per partition, and every consumer restarts and
 * rebalances over all of them (docs/operations.md, "Group topics").
 */
export type GroupTopicLayout = "per-group" | number;

/** The topic of a group's stored messages, in order, for the fan-out consumers. */
export function groupTopic(clusterName: string, groupId: GroupId, layout: GroupTopicLayout): Topic<GroupMessageEvent> {
  if (layout === "per-group") return { name: `${groupTopics(clusterName).prefix}${groupId}`, schema: GroupMessageEvent };
  return { name: `${groupShardTopicPrefix(clusterName)}${String(groupShard(groupId, layout))}`, schema: GroupMessageEvent };
}

/**
 * Every shared group topic of a layout (none for "per-group"), so that they can be created
 * up front: a topic that appears later costs the fan-out a rebalance and its first
 * message the prefix subscription's pick-up delay.
 */
export function groupShardTopicNames(clusterName: string, layout: GroupTopicLayout): string[] {
  if (layout === "per-group") return [];
  return Array.from({ length: layout }, (_, shard) => `${groupShardTopicPrefix(clusterName)}${String(shard)}`);
}

/** The topics of one group each ("per-group"). The operator applies kafka.groupTopics to these. */
export function groupTopics(clusterName: string): TopicFamily<GroupMessageEvent> {
  return { prefix: `${topicPrefix(clusterName)}group.`, schema: GroupMessageEvent };
}

/**
 * The shared group topics, `group-shard.<k>`. Outside the `group.` family on purpose: the
 * operator treats every topic of that family as one group's (and may delete it with its group).
 * With a layout, its shards are the family's known members.
 */
export function groupShardTopics(clusterName: string, layout?: GroupTopicLayout): TopicFamily<GroupMessageEvent> {
  const family = { prefix: groupShardTopicPrefix(clusterName), schema: GroupMessageEvent };
  return layout === undefined ? family : { ...family, known: groupShardTopicNames(clusterName, layout) };
}

function groupShardTopicPrefix(clusterName: string): string {
  return `${topicPrefix(clusterName)}group-shard.`;
}

/**
 * The shared topic of a group, 0 to shards - 1: FNV-1a (32 bits) of its id. Stable across
 * processes and versions, which every publisher of a cluster must agree on; changing the
 * number of shards moves groups, so their order holds only from the change on.
 */
export function groupShard(groupId: GroupId, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < groupId.length; i++) {
    hash ^= groupId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
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
