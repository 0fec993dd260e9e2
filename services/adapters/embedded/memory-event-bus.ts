import type { BusEvent, EventBus, EventHandler, JsonValue, Subscription } from "../../ports/event-bus.js";

interface Subscriber {
  group: string;
  handler: EventHandler;
  /** Events for this subscriber run one after another, so per-key order holds. */
  tail: Promise<void>;
}

/**
 * The in-process event bus. Delivery is at-most-once to the subscribers present at
 * publish time: like a Kafka topic read from the latest offset, without retention.
 */
export class MemoryEventBus implements EventBus {
  private readonly topics = new Map<string, Set<Subscriber>>();
  private closed = false;

  constructor(private readonly onHandlerError: (error: unknown, event: BusEvent) => void) {}

  publish(topic: string, key: string, value: JsonValue): Promise<void> {
    if (this.closed) return Promise.reject(new Error("event bus is closed"));
    const subscribers = this.topics.get(topic);
    if (!subscribers) return Promise.resolve();
    const byGroup = new Map<string, Subscriber[]>();
    for (const subscriber of subscribers) {
      const members = byGroup.get(subscriber.group) ?? [];
      members.push(subscriber);
      byGroup.set(subscriber.group, members);
    }
    const serialized = JSON.stringify(value);
    for (const members of byGroup.values()) {
      const chosen = members[hashKey(key) % members.length];
      if (chosen) this.dispatch(chosen, { topic, key, value: JSON.parse(serialized) as JsonValue });
    }
    return Promise.resolve();
  }

  subscribe(topic: string, group: string, handler: EventHandler): Promise<Subscription> {
    const subscriber: Subscriber = { group, handler, tail: Promise.resolve() };
    const subscribers = this.topics.get(topic) ?? new Set<Subscriber>();
    subscribers.add(subscriber);
    this.topics.set(topic, subscribers);
    return Promise.resolve({
      unsubscribe: () => {
        subscribers.delete(subscriber);
        if (subscribers.size === 0) this.topics.delete(topic);
        return subscriber.tail;
      },
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.topics.values()].flatMap((set) => [...set].map((s) => s.tail));
    this.topics.clear();
    await Promise.all(pending);
  }

  private dispatch(subscriber: Subscriber, event: BusEvent): void {
    subscriber.tail = subscriber.tail
      .then(() => subscriber.handler(event))
      .catch((error: unknown) => {
        this.onHandlerError(error, event);
      });
  }
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
