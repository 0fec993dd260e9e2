import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryDeliveryChannel } from "../adapters/embedded/memory-delivery-channel.js";
import { MemoryEventBus } from "../adapters/embedded/memory-event-bus.js";
import type { FrameHandler } from "../ports/frame-handler.js";
import type { ServerFrame } from "../protocol/frames.js";
import type { ServiceFrame, Session } from "../protocol/session.js";
import { FrameRequestConsumer } from "./frame-request-consumer.js";
import { RemoteFrameHandler } from "./remote-frame-handler.js";

const CLUSTER = "test";
const GATEWAY = "gw-1";

function session(userId: string): Session {
  return { userId, deviceId: "phone", connectionId: `c-${userId}`, gatewayId: GATEWAY };
}

function listFrame(id: string): ServiceFrame {
  return { type: "group.list", id };
}

/** The groups service as the consumer sees it: a FrameHandler whose answers the test controls. */
class ScriptedService implements FrameHandler {
  readonly started: string[] = [];
  readonly finished: string[] = [];
  running = 0;
  mostAtOnce = 0;
  /** Per frame id: what the handler waits for before it answers. */
  readonly holds = new Map<string, Promise<void>>();

  async handle(_session: Session, frame: ServiceFrame): Promise<ServerFrame> {
    this.started.push(frame.id);
    this.running++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    await (this.holds.get(frame.id) ?? new Promise<void>((resolve) => setImmediate(resolve)));
    this.running--;
    this.finished.push(frame.id);
    return { type: "group.list", id: frame.id, groups: [] };
  }
}

let bus: MemoryEventBus;
let replies: MemoryDeliveryChannel;
let gateway: RemoteFrameHandler;
let service: ScriptedService;
let consumer: FrameRequestConsumer;

beforeEach(async () => {
  bus = new MemoryEventBus((error) => {
    throw error;
  });
  replies = new MemoryDeliveryChannel();
  const logger = pino({ level: "silent" });
  gateway = new RemoteFrameHandler({ clusterName: CLUSTER, gatewayId: GATEWAY, timeoutMs: 60_000 }, { bus, replies, logger });
  await gateway.start();
  service = new ScriptedService();
  consumer = new FrameRequestConsumer({ clusterName: CLUSTER, service: "groups", concurrency: 8 }, { bus, replies, handler: service, logger });
  await consumer.start();
});

afterEach(async () => {
  await consumer.stop();
  await gateway.stop();
  await bus.close();
});

describe("FrameRequestConsumer", () => {
  it("answers another user's request while one user's request is still being handled", async () => {
    let releaseAnn = (): void => undefined;
    service.holds.set("ann-1", new Promise<void>((resolve) => (releaseAnn = resolve)));
    const ann = gateway.handle(session("ann"), listFrame("ann-1"));
    // Bob's reply arrives while Ann's request is held: one at a time, it would wait for hers.
    expect(await gateway.handle(session("bob"), listFrame("bob-1"))).toMatchObject({ id: "bob-1" });
    expect(service.finished).toEqual(["bob-1"]);
    releaseAnn();
    expect(await ann).toMatchObject({ id: "ann-1" });
  });

  it("handles one user's requests one at a time, in the order the gateway sent them", async () => {
    let releaseFirst = (): void => undefined;
    service.holds.set("ann-1", new Promise<void>((resolve) => (releaseFirst = resolve)));
    const answers = ["ann-1", "ann-2", "ann-3"].map((id) => gateway.handle(session("ann"), listFrame(id)));
    // Another user's request gets through, so Ann's later ones have reached the service too.
    await gateway.handle(session("bob"), listFrame("bob-1"));
    expect(service.started.filter((id) => id.startsWith("ann"))).toEqual(["ann-1"]);
    releaseFirst();
    await Promise.all(answers);
    expect(service.finished.filter((id) => id.startsWith("ann"))).toEqual(["ann-1", "ann-2", "ann-3"]);
  });

  it("handles at most its concurrency of requests at once", async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => gateway.handle(session(`user-${i}`), listFrame(`r-${i}`))));
    expect(service.finished).toHaveLength(40);
    expect(service.mostAtOnce).toBeGreaterThan(1);
    expect(service.mostAtOnce).toBeLessThanOrEqual(8);
  });
});
