/**
 * Topic-based publish/subscribe between services and gateways (Kafka in production).
 *
 * Order is kept per (topic, key). Subscribers that share a `group` split a topic's keys
 * between them, each key going to one member; subscribers in different groups each get
 * every event. Values are JSON: what a subscriber receives is a copy, never the
 * publisher's object.
 */
export interface EventBus {
  publish(topic: string, key: string, value: JsonValue): Promise<void>;
  /**
   * Subscribes to one topic, or to every topic whose name starts with a prefix (the
   * one-topic-per-group topics), including topics created after the subscription.
   */
  subscribe(topic: TopicSelector, group: string, handler: EventHandler): Promise<Subscription>;
  close(): Promise<void>;
}

export type TopicSelector = string | { prefix: string };

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
