import { describe, expect, it } from "vitest";
import { platformPerTest } from "../e2e/support/test-platform.js";
import { ParleyClient } from "./index.js";
import { nodeWebSocket } from "./node.js";
import type { Message } from "./index.js";

const startPlatform = platformPerTest();

describe("SDK messaging", () => {
  it("delivers a direct message from one client to another as a typed message event", async () => {
    const platform = await startPlatform();
    const alice = new ParleyClient({ url: platform.websocketUrl, token: await platform.token("alice"), WebSocket: nodeWebSocket });
    const bob = new ParleyClient({ url: platform.websocketUrl, token: await platform.token("bob"), WebSocket: nodeWebSocket });
    try {
      await alice.connect();
      await bob.connect();
      const received = new Promise<Message>((resolve) => bob.once("message", resolve));
      const stored = await alice.send("bob", "hello bob");
      const message = await received;
      expect(message).toEqual(stored);
      expect(message.body.text).toBe("hello bob");
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});
