import { afterAll, beforeAll, expect, it } from "vitest";
import { EventCollector } from "./support/event-collector.js";
import { RawConnection } from "./support/raw-connection.js";
import { startTestPlatform, type TestPlatform } from "./support/test-platform.js";

let platform: TestPlatform;

beforeAll(async () => {
  platform = await startTestPlatform();
});

afterAll(async () => {
  await platform.dispose();
});

it("answers the health and readiness probes", async () => {
  const health = await fetch(`${platform.url}/healthz`);
  expect(health.status).toBe(200);
  const ready = await fetch(`${platform.url}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: "ready" });
  expect((await fetch(`${platform.url}/nope`)).status).toBe(404);
  expect((await fetch(`${platform.url}/ws`)).status).toBe(426);
});

it("exposes connections, frames, stored messages and delivery latency on /metrics", async () => {
  const alice = await platform.open("alice");
  const bob = EventCollector.of(await platform.open("bob"));
  await alice.send("bob", "counted");
  await bob.untilMessages(1);
  const text = await (await fetch(`${platform.url}/metrics`)).text();
  expect(text).toMatch(/^parley_gateway_connections 2$/m);
  expect(text).toMatch(/^parley_chat_messages_stored_total 1$/m);
  expect(text).toMatch(/^parley_gateway_frames_received_total\{type="send"\} 1$/m);
  expect(text).toMatch(/^parley_gateway_frames_sent_total\{type="ack"\} 1$/m);
  // One message event each for bob and for alice's own device.
  expect(text).toMatch(/^parley_delivery_latency_seconds_count\{frame="event"\} 2$/m);
});

it("reports not ready while draining, before the listener closes", async () => {
  const draining = await startTestPlatform({ shutdownGraceMs: 1000 });
  const stalled = await RawConnection.open({ url: draining.websocketUrl, token: await draining.token("carol") });
  // A client that does not read holds the drain open for the grace period.
  stalled.pauseReading();
  const stopped = draining.stop();
  const ready = await fetch(`${draining.url}/readyz`);
  expect(ready.status).toBe(503);
  stalled.resumeReading();
  await stopped;
  await draining.dispose();
});
