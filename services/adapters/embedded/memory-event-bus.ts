import type { BusEvent, EventBus, EventHandler, JsonValue, SubscribeOptions, Subscription, TopicSelector } from "../../ports/event-bus.js";
import { KeyedRunner } from "../../ports/keyed-runner.js";
import { copyJson } from "./copy-json.js";

interface Subscriber {
  selector: TopicSelector;
  group: string;
  handler: EventHandler;
  /** Events of one (topic, key) run one after another; other keys side by side, up to the subscription's concurrency. */
  runner: KeyedRunner;
}

/**
 * The in-process event bus. Delivery is at-most-once to the subscribers present at
 * publish time: like a Kafka topic read from the latest offset, without retention.
 */
export class MemoryEventBus implements EventBus {
  private readonly subscribers = new Set<Subscriber>();
  private closed = false;

  constructor(private readonly onHandlerError: (error: unknown, event: BusEvent) => void) {}

  publish(topic: string, key: string, value: JsonValue): Promise<void> {
    if (this.closed) return Promise.reject(new Error("event bus is closed"));
    const byGroup = new Map<string, Subscriber[]>();
    for (const subscriber of this.subscribers) {
      if (!matches(subscriber.selector, topic)) continue;
      const members = byGroup.get(subscriber.group) ?? [];
      members.push(subscriber);
      byGroup.set(subscriber.group, members);
    }
    if (byGroup.size === 0) return Promise.resolve();
    for (const members of byGroup.values()) {
      const chosen = members[hashKey(key) % members.length];
      if (chosen) this.dispatch(chosen, { topic, key, value: copyJson(value) });
    }
    return Promise.resolve();
  }

  subscribe(selector: TopicSelector, group: string, handler: EventHandler, options?: SubscribeOptions): Promise<Subscription> {
    const subscriber: Subscriber = { selector, group, handler, runner: new KeyedRunner(options?.concurrency ?? 1) };
    this.subscribers.add(subscriber);
    return Promise.resolve({
      unsubscribe: () => {
        this.subscribers.delete(subscriber);
        return subscriber.runner.idle();
      },
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.subscribers].map((s) => s.runner.idle());
    this.subscribers.clear();
    await Promise.all(pending);
  }

  private dispatch(subscriber: Subscriber, event: BusEvent): void {
    // Topic names carry no NUL (Kafka's allow letters, digits, '.', '_' and '-'): one string per pair.
    subscriber.runner
      .run(`${event.topic}\u0000${event.key}`, () => subscriber.handler(event))
      .catch((error: unknown) => {
        this.onHandlerError(error, event);
      });
  }
}

function matches(selector: TopicSelector, topic: string): boolean {
  return typeof selector === "string" ? selector === topic : topic.startsWith(selector.prefix);
}

/** FNV-1a: stable across processes, so a key maps to the same group member every time. */
function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
