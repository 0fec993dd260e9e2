import { afterEach, describe, expect, it } from "vitest";
import { MemoryConnectionRegistry } from "../adapters/embedded/memory-connection-registry.js";
import { TokenAuthority } from "../auth/tokens.js";
import { RawConnection } from "../e2e/support/raw-connection.js";
import { activityTopic } from "../events/topics.js";
import { subscribeTo } from "../ports/event-bus.js";
import { startTestGateway } from "./testing/test-gateway.js";

const tokens = new TokenAuthority("a-test-secret-that-is-long-enough-0123456789");
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("gateway activity events", () => {
  it("publishes every send and read of a burst in the activity events, counted", async () => {
    const { url, bus, stop } = await startTestGateway(new MemoryConnectionRegistry(), tokens);
    cleanups.push(stop);
    const counted = { send: 0, read: 0 };
    const subscription = await subscribeTo(bus, activityTopic("test"), "activity-test", (event) => {
      if (event.kind !== "send" && event.kind !== "read") return;
      counted[event.kind] += event.count ?? 1;
    }, () => undefined);
    cleanups.push(() => subscription.unsubscribe());
    const alice = await RawConnection.open({ url, token: await tokens.issue("alice", 600), deviceId: "phone" });
    cleanups.push(() => alice.close());

    // This test gateway has no services behind it: each frame is refused, after it was counted.
    await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => alice.request({ type: "send", to: "bob", clientMessageId: `m${String(i)}`, body: { text: "hi" } })),
      alice.request({ type: "receipt", conversationId: "dm:alice:bob", kind: "read", upToSeq: 1 }),
      alice.request({ type: "receipt", conversationId: "dm:alice:bob", kind: "read", upToSeq: 2 }),
    ]);
    await expect.poll(() => counted).toEqual({ send: 5, read: 2 });
  });
});
