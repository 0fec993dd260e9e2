import { afterEach, describe, expect, it, vi } from "vitest";
import type { Message, ServerFrame } from "../protocol/frames.js";
import { ParleyClient } from "./client.js";
import { memoryStorage, StorageKeys, type ParleyStorage } from "./storage.js";
import { defaultAnswer, scriptedWebSocket, type ScriptedRequest } from "./testing/scripted-websocket.js";
import type { ParleyOptions } from "./types.js";

const clients: ParleyClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

function client(options: Partial<ParleyOptions> & Pick<ParleyOptions, "WebSocket">): ParleyClient {
  const created = new ParleyClient({ url: "ws://127.0.0.1:1/ws", token: "t", reconnect: { initialDelayMs: 10, maxDelayMs: 10 }, ...options });
  clients.push(created);
  return created;
}

function groupMessage(groupId: string, seq: number): Message {
  return {
    messageId: `m${String(seq)}`,
    conversationId: `grp:${groupId}`,
    seq,
    senderId: "bob",
    senderDeviceId: "d2",
    groupId,
    clientMessageId: `c${String(seq)}`,
    body: { text: `message ${String(seq)}` },
    sentAt: "2026-01-01T00:00:00.000Z",
  };
}

describe("SDK client edge cases (scripted server replies)", () => {
  it("finishes a group catch-up when a page with more to come holds only messages it has already seen", async () => {
    const storage = memoryStorage();
    await storage.set(`${StorageKeys.groupSeqPrefix}g1`, 3);
    let historyPages = 0;
    const { WebSocket } = scriptedWebSocket((request) => {
      if (request.type === "group.list") return { type: "group.list", id: request.id, groups: [{ groupId: "g1", name: "team", role: "member", lastSeq: 5, readSeq: 3, unread: 2 }] };
      if (request.type === "history") {
        // A server whose page overlaps the mark; a client that asks again for the same page would ask forever.
        if (++historyPages > 5) return undefined;
        return { type: "history.page", id: request.id, conversationId: "grp:g1", messages: [groupMessage("g1", 2), groupMessage("g1", 3)], hasMore: true };
      }
      return defaultAnswer(request);
    });
    const alice = client({ WebSocket, storage });
    await alice.connect();
    expect(historyPages).toBe(1);
  }, 5_000);

  it("leaves no retry timer behind after close(), so Node can exit", async () => {
    const { WebSocket, server } = scriptedWebSocket((request): ServerFrame | undefined =>
      request.type === "send" ? { type: "error", id: request.id, code: "rate_limited", message: "slow down", retryAfterMs: 60_000 } : defaultAnswer(request),
    );
    const alice = client({ WebSocket });
    await alice.connect();
    const retryTimers: unknown[] = [];
    const cleared = new Set<unknown>();
    const realSetTimeout = globalThis.setTimeout;
    const realClearTimeout = globalThis.clearTimeout;
    vi.spyOn(globalThis, "setTimeout").mockImplementation(((handler: () => void, ms?: number) => {
      const timer = realSetTimeout(handler, ms);
      if (ms === 60_000) retryTimers.push(timer);
      return timer;
    }) as typeof setTimeout);
    vi.spyOn(globalThis, "clearTimeout").mockImplementation((timer) => {
      cleared.add(timer);
      realClearTimeout(timer);
    });
    const repliedBefore = server.replied;
    void alice.send("bob", "later").catch(() => undefined);
    await waitFor(() => server.replied > repliedBefore);
    await alice.close();
    vi.restoreAllMocks();
    expect(retryTimers).toHaveLength(1);
    expect(cleared.has(retryTimers[0])).toBe(true);
    // Without the fix the timer would hold the test process for a minute.
    for (const timer of retryTimers) clearTimeout(timer as ReturnType<typeof setTimeout>);
  });

  it("opens one socket when close() and connect() come while a token is being fetched", async () => {
    const tokenRequests: ((token: string) => void)[] = [];
    const { WebSocket, server } = scriptedWebSocket();
    const alice = client({ WebSocket, token: () => new Promise<string>((resolve) => tokenRequests.push(resolve)) });
    const first = alice.connect().catch(() => undefined);
    await waitFor(() => tokenRequests.length === 1);
    await alice.close();
    await first;
    const second = alice.connect();
    await waitFor(() => tokenRequests.length === 2);
    for (const resolve of tokenRequests) resolve("t");
    await second;
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.sockets).toHaveLength(1);
  });

  it("sends again with the same clientMessageId after storing the first attempt failed", async () => {
    const inner = memoryStorage();
    let failNextOutboxWrite = true;
    const storage: ParleyStorage = {
      ...inner,
      set: (key, value) => {
        if (key.startsWith(StorageKeys.outboxPrefix) && failNextOutboxWrite) {
          failNextOutboxWrite = false;
          return Promise.reject(new Error("quota exceeded"));
        }
        return inner.set(key, value);
      },
    };
    const acked = (request: ScriptedRequest): ServerFrame => ({
      type: "ack",
      id: request.id,
      duplicate: false,
      message: { ...groupMessage("g1", 1), conversationId: "dm:alice:bob", groupId: undefined, recipientId: "bob", clientMessageId: String(request.clientMessageId) },
    });
    const { WebSocket } = scriptedWebSocket((request) => (request.type === "send" ? acked(request) : defaultAnswer(request)));
    const alice = client({ WebSocket, storage });
    await alice.connect();
    await expect(alice.send("bob", "hi", { clientMessageId: "same" })).rejects.toThrow("quota exceeded");
    const stored = await alice.send("bob", "hi", { clientMessageId: "same" });
    expect(stored.clientMessageId).toBe("same");
  }, 5_000);
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
