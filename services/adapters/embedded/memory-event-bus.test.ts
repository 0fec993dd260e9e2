import { describe, expect, it } from "vitest";
import { describeEventBusContract } from "../../ports/contract/event-bus.contract.js";
import type { BusEvent } from "../../ports/event-bus.js";
import { MemoryEventBus } from "./memory-event-bus.js";

describeEventBusContract("MemoryEventBus", () => {
  const bus = new MemoryEventBus(() => undefined);
  return Promise.resolve({ bus, cleanup: () => bus.close() });
});

describe("MemoryEventBus", () => {
  it("reports a failing handler's error together with its event", async () => {
    const failures: [unknown, BusEvent][] = [];
    const reported = new Promise<void>((resolve) => {
      const bus = new MemoryEventBus((error, event) => {
        failures.push([error, event]);
        resolve();
      });
      void bus.subscribe("t", "g", () => {
        throw new Error("boom");
      }).then(() => bus.publish("t", "k", 1));
    });
    await reported;
    expect(failures).toHaveLength(1);
    expect((failures[0]?.[0] as Error).message).toBe("boom");
    expect(failures[0]?.[1]).toEqual({ topic: "t", key: "k", value: 1 });
  });

  it("lets close wait for handlers in flight, then refuses publishes", async () => {
    const bus = new MemoryEventBus(() => undefined);
    let release = (): void => undefined;
    let finished = false;
    let started = (): void => undefined;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    await bus.subscribe("t", "g", async () => {
      started();
      await new Promise<void>((resolve) => (release = resolve));
      finished = true;
    });
    await bus.publish("t", "k", 1);
    await handlerStarted;
    let closed = false;
    const closing = bus.close().then(() => (closed = true));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(finished).toBe(true);
    await expect(bus.publish("t", "k", 2)).rejects.toThrow("event bus is closed");
  });
});
