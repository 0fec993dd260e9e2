import type { Topic, TopicFamily } from "../events/topics.js";

/**
 * Topic-based publish/subscribe between services and gateways (Kafka in production).
 *
 * Order is kept per (topic, key): a subscription handles the events of one key one at a
 * time, in the order they were published. Events of different keys may be handled side
 * by side, up to the subscription's `concurrency` (default 1: one event at a time).
 * Subscribers that share a `group` split a topic's keys between them, each key going to
 * one member; subscribers in different groups each get every event. Values are JSON: what
 * a subscriber receives is a copy, never the publisher's object.
 */
export interface EventBus {
  publish(topic: string, key: string, value: JsonValue): Promise<void>;
  /**
   * Subscribes to one topic, or to every topic whose name starts with a prefix (the
   * one-topic-per-group topics), including topics created after the subscription.
   */
  subscribe(topic: TopicSelector, group: string, handler: EventHandler, options?: SubscribeOptions): Promise<Subscription>;
  close(): Promise<void>;
}

/**
 * One topic, or every topic whose name starts with `prefix`; `create` names topics of the
 * prefix to create before the subscription starts, so that it reads them from their
 * beginning at once (a topic that appears later is picked up after a delay, the Kafka
 * adapter's `topicRefreshMs`, and restarts the consumer).
 */
export type TopicSelector = string | { prefix: string; create?: readonly string[] };

export interface SubscribeOptions {
  /**
   * How many events of different keys this subscription handles at once (events of one
   * key never overlap). Default 1. Worth raising where handlers wait on I/O and keys are
   * independent: frame requests, keyed by user. The Kafka adapter runs side by side the
   * events of what it fetched together (every partition it holds, up to this many
   * partitions at once) and fetches again once those are handled, so a slow handler delays
   * later fetches, not the other events in hand.
   */
  concurrency?: number;
}

export type EventHandler = (event: BusEvent) => Promise<void> | void;

export interface BusEvent {
  topic: string;
  key: string;
  value: JsonValue;
}

export interface Subscription {
  unsubscribe(): Promise<void>;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Publishes a value of the topic's own type: the compiler holds publishers to the schema. */
export function publishTo<T>(bus: EventBus, topic: Topic<T>, key: string, value: T): Promise<void> {
  return bus.publish(topic.name, key, value as JsonValue);
}

/**
 * Subscribes with the topic's schema. What crossed a bus may come from a process of
 * another version: the handler sees only values that pass the schema; anything else
 * goes to `onInvalid` and is skipped, so one bad event never blocks a partition.
 */
export function subscribeTo<T>(
  bus: EventBus,
  topic: Topic<T> | TopicFamily<T>,
  group: string,
  handler: (value: T, event: BusEvent) => Promise<void> | void,
  onInvalid: (event: BusEvent) => void,
  options?: SubscribeOptions,
): Promise<Subscription> {
  const selector: TopicSelector = "name" in topic ? topic.name : { prefix: topic.prefix, ...(topic.known === undefined ? {} : { create: topic.known }) };
  return bus.subscribe(selector, group, (event) => {
    const parsed = topic.schema.safeParse(event.value);
    if (!parsed.success) {
      onInvalid(event);
      return;
    }
    return handler(parsed.data, event);
  }, options);
}
