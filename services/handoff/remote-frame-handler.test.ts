import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryDeliveryChannel } from "../adapters/embedded/memory-delivery-channel.js";
import { MemoryEventBus } from "../adapters/embedded/memory-event-bus.js";
import type { FrameReply, FrameRequest } from "../events/frame-request.js";
import { CONSUMER_GROUPS, replyChannel, requestTopic } from "../events/topics.js";
import { type EventBus, type JsonValue, subscribeTo } from "../ports/event-bus.js";
import { ErrorCode } from "../protocol/errors.js";
import type { ServerFrame } from "../protocol/frames.js";
import type { ServiceFrame, Session } from "../protocol/session.js";
import { ManualClock } from "../testing/clock.js";
import { RemoteFrameHandler, SLOW_PUBLISH_MS } from "./remote-frame-handler.js";

const CLUSTER = "test";
const GATEWAY = "gw-1";
const TIMEOUT_MS = 10_000;
const SESSION: Session = { userId: "ann", deviceId: "phone", connectionId: "c1", gatewayId: GATEWAY };

function listFrame(id: string): ServiceFrame {
  return { type: "group.list", id };
}

function answer(id: string): ServerFrame {
  return { type: "group.list", id, groups: [] };
}

let clock: ManualClock;
let bus: MemoryEventBus;
let replies: MemoryDeliveryChannel;
let errors: string[];
let handler: RemoteFrameHandler;
/** Requests the groups service has been handed, and whoever waits for the next one. */
let requests: FrameRequest[];
let requestWaiters: ((request: FrameRequest) => void)[];

beforeEach(async () => {
  // The hand-over times out with setTimeout; fake timers let the test move time instead of waiting.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  clock = new ManualClock();
  bus = new MemoryEventBus((error) => {
    throw error;
  });
  replies = new MemoryDeliveryChannel();
  errors = [];
  const logger = pino({ level: "error" }, { write: (line: string) => errors.push((JSON.parse(line) as { msg: string }).msg) });
  handler = new RemoteFrameHandler({ clusterName: CLUSTER, gatewayId: GATEWAY, timeoutMs: TIMEOUT_MS }, { bus, replies, logger, now: clock.now });
  await handler.start();
  requests = [];
  requestWaiters = [];
  await subscribeTo(
    bus,
    requestTopic(CLUSTER, "groups"),
    CONSUMER_GROUPS.frameRequests("groups"),
    (request) => {
      const waiter = requestWaiters.shift();
      if (waiter) waiter(request);
      else requests.push(request);
    },
    () => {
      throw new Error("malformed frame request");
    },
  );
});

afterEach(async () => {
  await handler.stop();
  await bus.close();
  vi.useRealTimers();
});

function nextRequest(): Promise<FrameRequest> {
  const queued = requests.shift();
  return queued ? Promise.resolve(queued) : new Promise((resolve) => requestWaiters.push(resolve));
}

function reply(requestId: string, frame: ServerFrame): Promise<void> {
  const value: FrameReply = { requestId, frame };
  // Frames are plain JSON; their interfaces only lack the index signature JsonValue asks for.
  return replies.send(replyChannel(GATEWAY), value as unknown as JsonValue);
}

/** Whether a promise has settled yet, without waiting for it to. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  // Settlement propagates on promise callbacks: they have all run by the next macrotask.
  await new Promise(setImmediate);
  return settled;
}

describe("RemoteFrameHandler", () => {
  it("hands the frame to its owning service with a deadline, and resolves with the reply that carries its request id", async () => {
    const answered = handler.handle(SESSION, listFrame("r1"));
    const request = await nextRequest();
    expect(request).toMatchObject({ session: SESSION, frame: listFrame("r1"), deadline: clock.now() + TIMEOUT_MS });

    await reply("some-other-request", answer("r0"));
    expect(await isSettled(answered)).toBe(false);
    await reply(request.requestId, answer("r1"));
    await expect(answered).resolves.toEqual(answer("r1"));
  });

  it("matches replies to requests when several are in flight and answered out of order", async () => {
    const first = handler.handle(SESSION, listFrame("r1"));
    const second = handler.handle(SESSION, listFrame("r2"));
    const [a, b] = [await nextRequest(), await nextRequest()];
    await reply(b.requestId, answer("r2"));
    await reply(a.requestId, answer("r1"));
    await expect(first).resolves.toEqual(answer("r1"));
    await expect(second).resolves.toEqual(answer("r2"));
  });

  it("fails with unavailable once its timeout has passed without a reply", async () => {
    const answered = handler.handle(SESSION, listFrame("r1"));
    await nextRequest();
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1);
    expect(await isSettled(answered)).toBe(false);
    const failed = expect(answered).rejects.toMatchObject({ code: ErrorCode.unavailable });
    await vi.advanceTimersByTimeAsync(1);
    await failed;
  });

  it("ignores a reply that comes after the timeout, and still answers the next request", async () => {
    const late = handler.handle(SESSION, listFrame("r1"));
    const failed = expect(late).rejects.toMatchObject({ code: ErrorCode.unavailable });
    const request = await nextRequest();
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    await failed;

    await reply(request.requestId, answer("r1"));
    expect(errors).toEqual([]);

    const next = handler.handle(SESSION, listFrame("r2"));
    await reply((await nextRequest()).requestId, answer("r2"));
    await expect(next).resolves.toEqual(answer("r2"));
  });

  it("drops a malformed reply and keeps waiting for the real one", async () => {
    const answered = handler.handle(SESSION, listFrame("r1"));
    const request = await nextRequest();
    await replies.send(replyChannel(GATEWAY), { frame: { type: "group.list", id: "r1", groups: [] } });
    expect(errors).toEqual(["dropped a malformed frame reply"]);
    expect(await isSettled(answered)).toBe(false);
    await reply(request.requestId, answer("r1"));
    await expect(answered).resolves.toEqual(answer("r1"));
  });

  it("fails with unavailable at once when the request cannot be published, leaving no timer behind", async () => {
    await bus.close();
    await expect(handler.handle(SESSION, listFrame("r1"))).rejects.toMatchObject({ code: ErrorCode.unavailable });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("fails the requests still waiting with unavailable when the gateway stops", async () => {
    const answered = handler.handle(SESSION, listFrame("r1"));
    await nextRequest();
    await handler.stop();
    await expect(answered).rejects.toMatchObject({ code: ErrorCode.unavailable });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("slow publishes", () => {
  it("logs a frame request that took a second or more to publish, with how long", async () => {
    const warnings: { msg: string; publishMs?: number }[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line) as { msg: string; publishMs?: number }) });
    let release: () => void = () => undefined;
    // The shared bus, with a publish that Kafka takes only when the test says so.
    const slowBus: EventBus = {
      publish: (topic, key, value) => new Promise<void>((resolve) => (release = () => void bus.publish(topic, key, value).then(resolve))),
      subscribe: (topic, group, handler) => bus.subscribe(topic, group, handler),
      close: () => bus.close(),
    };
    const slow = new RemoteFrameHandler({ clusterName: CLUSTER, gatewayId: "gw-slow", timeoutMs: TIMEOUT_MS }, { bus: slowBus, replies, logger, now: clock.now });
    await slow.start();
    const answered = slow.handle({ ...SESSION, gatewayId: "gw-slow" }, listFrame("r-slow")).catch(() => undefined);
    clock.advance(SLOW_PUBLISH_MS + 500);
    release();
    await vi.waitFor(() => {
      expect(warnings.map((w) => w.msg)).toContain("slow frame request publish");
    });
    expect(warnings.find((w) => w.msg === "slow frame request publish")?.publishMs).toBe(SLOW_PUBLISH_MS + 500);
    await slow.stop();
    await answered;
  });
});
