import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { TokenAuthority } from "../auth/tokens.js";
import type { InboxEvent, Message } from "../protocol/frames.js";
import { memoryStorage, type ParleyClient, type ParleyStorage } from "../sdk/index.js";
import { StorageKeys } from "../sdk/storage.js";
import { startChildPlatform, type ChildPlatform } from "./support/child-platform.js";
import { EventCollector } from "./support/event-collector.js";
import { openSdkClient } from "./support/test-platform.js";

let dataDir: string;
let tokens: TokenAuthority;
const running: ChildPlatform[] = [];
const clients: ParleyClient[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "parley-restart-"));
  tokens = new TokenAuthority(loadOrCreateDevSecret(dataDir));
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close().catch(() => undefined);
  for (const child of running.splice(0)) {
    child.process.kill("SIGKILL");
    await child.exited;
  }
  await rm(dataDir, { recursive: true, force: true });
});

/** `storage` is the device's state (its inbox cursor) from an earlier session. */
async function connect(platform: ChildPlatform, userId: string, storage: ParleyStorage = memoryStorage(), onEvent?: (event: InboxEvent) => void): Promise<ParleyClient> {
  const client = await openSdkClient(platform.websocketUrl, await tokens.issue(userId, 600), { storage, ...(onEvent ? { onEvent } : {}) });
  clients.push(client);
  return client;
}

/**
 * A send frame on its own, not through the SDK's outbox: it fails when the connection dies
 * (the outbox would keep it for the next connection) and shows the duplicate flag.
 */
function rawSend(client: ParleyClient, text: string, clientMessageId: string): Promise<{ message: Message; duplicate: boolean }> {
  return client.request({ type: "send", to: "bob", clientMessageId, body: { text } });
}

async function start(): Promise<ChildPlatform> {
  const child = await startChildPlatform(dataDir, { PARLEY_FRAMES_PER_SECOND: "10000", PARLEY_FRAME_BURST: "10000" });
  running.push(child);
  return child;
}

it("loses nothing acknowledged when the server process is killed mid-stream", async () => {
  const first = await start();
  const alice = await connect(first, "alice");
  const bob = await connect(first, "bob");
  const bobBefore = EventCollector.of(bob);
  await alice.send("bob", "warm-up");
  await bobBefore.untilMessages(1);
  // Bob's device as it was after the warm-up: the second session resumes from there.
  const bobStorage = memoryStorage();
  await bobStorage.set(StorageKeys.cursor, bob.cursor);

  // Sends in flight when the process dies: some are acked, the rest fail with the connection.
  const acked: Message[] = [];
  const sends = Array.from({ length: 200 }, (_, i) =>
    rawSend(alice, `m${i}`, `cm-${i}`).then(
      ({ message }) => {
        acked.push(message);
        if (acked.length === 50) first.process.kill("SIGKILL");
      },
      () => undefined,
    ),
  );
  await Promise.all(sends);
  expect(await first.exited).toBe("SIGKILL");
  expect(acked.length).toBeGreaterThanOrEqual(50);

  const second = await start();
  const collector = new EventCollector();
  await connect(second, "bob", bobStorage, collector.record);
  const synced = collector.messages;
  // Every acked message is there, each once, in one gap-free order.
  const syncedIds = new Set(synced.map((m) => m.messageId));
  for (const message of acked) expect(syncedIds.has(message.messageId)).toBe(true);
  expect(syncedIds.size).toBe(synced.length);
  expect(synced.map((m) => m.seq)).toEqual(Array.from({ length: synced.length }, (_, i) => i + 2));

  // A retry of every send after the restart stores nothing twice.
  const aliceAgain = await connect(second, "alice");
  const retries = await Promise.all(Array.from({ length: 200 }, (_, i) => rawSend(aliceAgain, `m${i}`, `cm-${i}`)));
  expect(retries.filter((r) => r.duplicate).length).toBe(synced.length);
  expect(new Set(retries.map((r) => r.message.seq)).size).toBe(200);
  expect(Math.max(...retries.map((r) => r.message.seq))).toBe(201);
});

it("keeps every message across a graceful restart (SIGTERM)", async () => {
  const first = await start();
  const alice = await connect(first, "alice");
  for (let i = 0; i < 10; i++) await alice.send("bob", `m${i}`);
  const reconnect = alice.next("reconnect");
  first.process.kill("SIGTERM");
  expect((await reconnect)[0].retryAfterMs).toBeGreaterThanOrEqual(0);
  expect(await first.exited).toBe(0);

  const second = await start();
  const collector = new EventCollector();
  await connect(second, "bob", memoryStorage(), collector.record);
  expect(collector.messages.map((m) => m.body.text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
});
