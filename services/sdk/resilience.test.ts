import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { platformPerTest, startTestPlatform, type TestPlatform } from "../e2e/support/test-platform.js";
import { fileStorage } from "./node.js";
import { memoryStorage } from "./storage.js";
import { interceptingWebSocket } from "./testing/intercepting-websocket.js";
import { collect, sdkClientsPerTest } from "./testing/sdk-clients.js";
import type { TokenReason } from "./types.js";

const startPlatform = platformPerTest();
const clients = sdkClientsPerTest();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "parley-sdk-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("SDK reconnect and resume", () => {
  it("reconnects by itself after the server shuts down, honouring the reconnect frame, and receives what was sent meanwhile", async () => {
    const dataDir = await tempDir();
    const first = await startTestPlatform({ shutdownGraceMs: 0 }, dataDir);
    const alice = await clients.open(first, "alice");
    const reconnectRequest = alice.next("reconnect");
    const closed = alice.next("close");
    await first.stop();
    const [info] = await closed;
    expect(info).toMatchObject({ code: 1012, willReconnect: true });
    expect((await reconnectRequest)[0].reason).toBe("shutdown");

    const second = await startTestPlatform({ port: first.port }, dataDir);
    cleanups.push(() => second.dispose());
    const reopened = alice.next("synced");
    const bob = await clients.open(second, "bob");
    const messages = collect(alice, "message");
    await bob.send("alice", "while you were away");
    await reopened;
    const received = await messages.until(1);
    expect(received.map(([m]) => m.body.text)).toEqual(["while you were away"]);
    expect(alice.state).toBe("open");
  });

  it("resends an unacknowledged message with the same clientMessageId after a drop, and the server stores it once", async () => {
    const platform = await startPlatform();
    const { WebSocket, interception } = interceptingWebSocket();
    // The first ack never reaches the client, and its connection dies: the message is stored, the client does not know.
    let ackHidden = false;
    interception.onReceive = (frame, socket) => {
      if (frame.type !== "ack" || ackHidden) return true;
      ackHidden = true;
      socket.terminate();
      return false;
    };
    const alice = await clients.open(platform, "alice", { WebSocket });
    const stored = await alice.send("bob", "exactly once", { clientMessageId: "once-1" });

    const sends = interception.sent.filter((frame) => frame.type === "send");
    expect(sends.map((frame) => frame.clientMessageId)).toEqual(["once-1", "once-1"]);
    expect(interception.sockets).toHaveLength(2);
    const bob = await clients.open(platform, "bob");
    const history = await bob.history("dm:alice:bob");
    expect(history.messages.map((m) => m.messageId)).toEqual([stored.messageId]);
    expect(await alice.pendingSends()).toEqual([]);
  });

  it("keeps sends made while offline in the outbox and sends them on connecting, in order", async () => {
    const platform = await startPlatform();
    const storage = memoryStorage();
    const offline = await clients.create(platform, "alice", { storage });
    const sent = [offline.send("bob", "one"), offline.send("bob", "two")];
    expect((await offline.pendingSends()).map((entry) => entry.body.text)).toEqual(["one", "two"]);
    await offline.connect();
    const messages = await Promise.all(sent);
    expect(messages.map((m) => [m.body.text, m.seq])).toEqual([
      ["one", 1],
      ["two", 2],
    ]);
    expect(await offline.pendingSends()).toEqual([]);
  });

  it("resumes from the stored cursor: a new session gets exactly the messages it missed", async () => {
    const platform = await startPlatform();
    const path = join(await tempDir(), "alice.json");
    const bob = await clients.open(platform, "bob");

    const firstSession = await clients.open(platform, "alice", { storage: fileStorage(path) });
    const seenFirst = collect(firstSession, "message");
    await bob.send("alice", "seen 1");
    await bob.send("alice", "seen 2");
    await seenFirst.until(2);
    await firstSession.close();

    for (const text of ["missed 1", "missed 2", "missed 3"]) await bob.send("alice", text);
    const secondSession = await clients.create(platform, "alice", { storage: fileStorage(path) });
    const seenSecond = collect(secondSession, "message");
    await secondSession.connect();
    expect(seenSecond.items.map(([m]) => m.body.text)).toEqual(["missed 1", "missed 2", "missed 3"]);
    expect(secondSession.cursor).toBe(5);
  });

  it("asks for a fresh token when the server closes with 4001 and carries on", async () => {
    const platform = await startPlatform();
    const reasons: TokenReason[] = [];
    const alice = await clients.open(platform, "alice", {
      token: (reason) => {
        reasons.push(reason);
        // The first token expires in a second; the server then closes with 4001.
        return platform.token("alice", reason === "connect" ? 1 : 3600);
      },
    });
    const [closeInfo] = await alice.next("close");
    expect(closeInfo).toMatchObject({ code: 4001, willReconnect: true });
    await alice.next("synced");
    expect(reasons).toEqual(["connect", "expired"]);
    expect(await alice.ping()).toBeGreaterThanOrEqual(0);
  });

  it("stops at 4001 when the token is a plain string (it cannot get a fresh one)", async () => {
    const platform: TestPlatform = await startPlatform();
    const alice = await clients.open(platform, "alice", { token: await platform.token("alice", 1) });
    const [closeInfo] = await alice.next("close");
    expect(closeInfo).toMatchObject({ code: 4001, willReconnect: false });
    expect(alice.state).toBe("closed");
  });
});
