import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BusEvent, EventBus, JsonValue, TopicSelector } from "../event-bus.js";

export interface EventBusFixture {
  bus: EventBus;
  /** Closes the bus and removes whatever the fixture created. */
  cleanup: () => Promise<void>;
}

/** Records the events a handler gets and lets a test await a number of them. */
class Received {
  readonly events: BusEvent[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  readonly handler = (event: BusEvent): void => {
    this.events.push(event);
    this.waiters = this.waiters.filter((waiter) => {
      if (this.events.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  };

  /** Resolves once at least `count` events have arrived. */
  atLeast(count: number): Promise<BusEvent[]> {
    if (this.events.length >= count) return Promise.resolve(this.events);
    return new Promise((resolve) => {
      this.waiters.push({
        count,
        resolve: () => {
          resolve(this.events);
        },
      });
    });
  }

  get values(): JsonValue[] {
    return this.events.map((e) => e.value);
  }

  get keys(): Set<string> {
    return new Set(this.events.map((e) => e.key));
  }
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/**
 * The semantics every EventBus adapter must have. A subscription receives the events
 * published after `subscribe` resolved. Topic names are unique per test, so the suite
 * also runs against a shared broker.
 */
export function describeEventBusContract(name: string, create: () => Promise<EventBusFixture>): void {
  describe(`EventBus contract: ${name}`, () => {
    let fixture: EventBusFixture;
    let bus: EventBus;
    let topic: string;

    beforeEach(async () => {
      fixture = await create();
      bus = fixture.bus;
      topic = `contract.${randomUUID()}`;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    async function subscribed(group: string, onTopic: TopicSelector = topic): Promise<Received> {
      const received = new Received();
      await bus.subscribe(onTopic, group, received.handler);
      return received;
    }

    it("delivers a published event to a subscriber", async () => {
      const received = await subscribed("g");
      await bus.publish(topic, "k1", { hello: "world", n: 1, list: [true, null, 2.5] });
      expect(await received.atLeast(1)).toEqual([{ topic, key: "k1", value: { hello: "world", n: 1, list: [true, null, 2.5] } }]);
    });

    it("accepts a publish nobody subscribed to", async () => {
      await expect(bus.publish(`${topic}.unheard`, "k", "v")).resolves.toBeUndefined();
    });

    it("delivers a JSON copy, not the publisher's object", async () => {
      const received = await subscribed("g");
      const value = { nested: { count: 1 }, list: [1, 2] };
      await bus.publish(topic, "k", value);
      value.nested.count = 99;
      value.list.push(3);
      const [event] = await received.atLeast(1);
      expect(event?.value).toEqual({ nested: { count: 1 }, list: [1, 2] });
      expect(event?.value).not.toBe(value);
    });

    it("keeps topics apart", async () => {
      const other = `${topic}.other`;
      const onTopic = await subscribed("g");
      const onOther = await subscribed("g", other);
      await bus.publish(other, "k", "for other");
      await bus.publish(topic, "k", "for topic");
      await onOther.atLeast(1);
      await onTopic.atLeast(1);
      expect(onTopic.values).toEqual(["for topic"]);
      expect(onOther.values).toEqual(["for other"]);
    });

    it("delivers every topic under a prefix to a prefix subscription, topics created later included", async () => {
      const prefix = `${topic}.groups.`;
      const byPrefix = await subscribed("g", { prefix });
      // Subscribed to the topics the prefix must not match: once they have their events, so would it.
      const witnesses = [await subscribed("w", topic), await subscribed("w", `${topic}.groups`), await subscribed("w", `${topic}.other.groups.x`)];
      await bus.publish(`${prefix}g1`, "k", "one");
      await bus.publish(topic, "k", "not under the prefix");
      await bus.publish(`${topic}.groups`, "k", "the prefix without its dot");
      await bus.publish(`${topic}.other.groups.x`, "k", "prefix in the middle");
      await bus.publish(`${prefix}g2`, "k", "two");
      await Promise.all(witnesses.map((w) => w.atLeast(1)));
      await byPrefix.atLeast(2);
      // Two topics: order is promised per topic and key only.
      expect([...byPrefix.events].sort((a, b) => a.topic.localeCompare(b.topic))).toEqual([
        { topic: `${prefix}g1`, key: "k", value: "one" },
        { topic: `${prefix}g2`, key: "k", value: "two" },
      ]);
    });

    it("keeps order per key, even when handlers take a while", async () => {
      const done: BusEvent[] = [];
      const allDone = new Received();
      await bus.subscribe(topic, "g", async (event) => {
        const { n } = event.value as { n: number };
        // Later events finish faster: a bus that overlapped handlers would reorder them.
        for (let i = 0; i < (60 - n) % 7; i++) await new Promise<void>((resolve) => setImmediate(resolve));
        done.push(event);
        allDone.handler(event);
      });
      for (const n of range(60)) await bus.publish(topic, `key-${n % 3}`, { n });
      await allDone.atLeast(60);
      for (const key of ["key-0", "key-1", "key-2"]) {
        const numbers = done.filter((e) => e.key === key).map((e) => (e.value as { n: number }).n);
        expect(numbers).toEqual(range(60).filter((n) => `key-${n % 3}` === key));
      }
    });

    it("handles the events of one key one at a time, in the order they were published, when handling keys concurrently", async () => {
      const running = new Map<string, number>();
      let overlaps = 0;
      const done: BusEvent[] = [];
      const allDone = new Received();
      await bus.subscribe(
        topic,
        "g",
        async (event) => {
          const now = (running.get(event.key) ?? 0) + 1;
          running.set(event.key, now);
          if (now > 1) overlaps++;
          const { n } = event.value as { n: number };
          // Later events finish faster: a bus that overlapped one key's handlers would reorder them.
          for (let i = 0; i < (40 - n) % 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
          running.set(event.key, now - 1);
          done.push(event);
          allDone.handler(event);
        },
        { concurrency: 8 },
      );
      await Promise.all(range(40).map((n) => bus.publish(topic, `key-${n % 4}`, { n })));
      await allDone.atLeast(40);
      expect(overlaps).toBe(0);
      for (const key of ["key-0", "key-1", "key-2", "key-3"]) {
        const numbers = done.filter((e) => e.key === key).map((e) => (e.value as { n: number }).n);
        expect(numbers).toEqual(range(40).filter((n) => `key-${n % 4}` === key));
      }
    });

    it("does not let a slow handler for one key hold back another key", async () => {
      let fastHandled = (): void => undefined;
      const fast = new Promise<void>((resolve) => (fastHandled = resolve));
      const finished: string[] = [];
      const bothDone = new Received();
      await bus.subscribe(
        topic,
        "g",
        async (event) => {
          // The slow key's handler finishes only after the other key's: one at a time, it never would.
          if (event.key === "slow") await fast;
          else fastHandled();
          finished.push(event.key);
          bothDone.handler(event);
        },
        { concurrency: 2 },
      );
      // Published together, so that a bus that fetches (Kafka) holds both at once.
      await Promise.all([bus.publish(topic, "slow", 1), bus.publish(topic, "fast", 2)]);
      await bothDone.atLeast(2);
      expect(finished).toEqual(["fast", "slow"]);
    });

    it("runs at most `concurrency` handlers at once", async () => {
      let running = 0;
      let most = 0;
      const received = new Received();
      await bus.subscribe(
        topic,
        "g",
        async (event) => {
          running++;
          most = Math.max(most, running);
          for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
          running--;
          received.handler(event);
        },
        { concurrency: 3 },
      );
      await Promise.all(range(24).map((n) => bus.publish(topic, `key-${n}`, n)));
      expect(sortedNumbers(await received.atLeast(24))).toEqual(range(24));
      expect(most).toBeLessThanOrEqual(3);
      expect(most).toBeGreaterThan(1);
    });

    it("gives every group every event", async () => {
      const first = await subscribed("group-a");
      const second = await subscribed("group-b");
      for (const n of range(20)) await bus.publish(topic, `key-${n}`, n);
      // Twenty keys: order is promised per key only, so compare the sets.
      expect(sortedNumbers(await first.atLeast(20))).toEqual(range(20));
      expect(sortedNumbers(await second.atLeast(20))).toEqual(range(20));
    });

    it("splits keys between the members of a group: each event to one member, each key to the same one", async () => {
      const one = await subscribed("workers");
      const two = await subscribed("workers");
      // Another group sees everything; once it has, any duplicate would have arrived too.
      const witness = await subscribed("witness");
      const keys = range(32).map((k) => `user-${k}`);
      for (const round of range(3)) {
        for (const key of keys) await bus.publish(topic, key, `${key}#${round}`);
      }
      await witness.atLeast(96);
      // Members consume independently of the witness: wait until they hold 96 between them.
      while (one.events.length + two.events.length < 96) {
        await Promise.race([one.atLeast(one.events.length + 1), two.atLeast(two.events.length + 1)]);
      }
      expect(one.events.length + two.events.length).toBe(96);
      expect([...one.values, ...two.values].sort()).toEqual([...witness.values].sort());
      expect([...one.keys].filter((key) => two.keys.has(key))).toEqual([]);
      expect(one.keys.size).toBeGreaterThan(0);
      expect(two.keys.size).toBeGreaterThan(0);
    });

    it("stops delivering to a subscription once it is unsubscribed", async () => {
      const leaving = new Received();
      const subscription = await bus.subscribe(topic, "leaving", leaving.handler);
      const witness = await subscribed("witness");
      await bus.publish(topic, "k", "before");
      await leaving.atLeast(1);
      await subscription.unsubscribe();
      await bus.publish(topic, "k", "after");
      await witness.atLeast(2);
      expect(leaving.values).toEqual(["before"]);
    });

    it("hands all keys to the remaining member when a group member leaves", async () => {
      const staying = await subscribed("workers");
      const leaving = new Received();
      const subscription = await bus.subscribe(topic, "workers", leaving.handler);
      await subscription.unsubscribe();
      for (const k of range(10)) await bus.publish(topic, `key-${k}`, k);
      expect(sortedNumbers(await staying.atLeast(10))).toEqual(range(10));
      expect(leaving.events).toEqual([]);
    });

    it("keeps delivering after a handler throws or rejects", async () => {
      const received = new Received();
      await bus.subscribe(topic, "g", (event) => {
        received.handler(event);
        if (event.value === "throw") throw new Error("handler failed");
        if (event.value === "reject") return Promise.reject(new Error("handler failed"));
        return undefined;
      });
      for (const value of ["throw", "reject", "after"]) await bus.publish(topic, "k", value);
      await received.atLeast(3);
      expect(received.values.at(-1)).toBe("after");
      expect(received.values).toContain("throw");
      expect(received.values).toContain("reject");
    });
  });
}

/** Event values (numbers) in ascending order, for checks where order across keys is not promised. */
function sortedNumbers(events: readonly BusEvent[]): number[] {
  return events.map((e) => e.value as number).sort((a, b) => a - b);
}
