/**
 * The benchmarks' clients: the SDK, set up so that it measures the server and nothing of
 * its own. Sends go straight out as `send` / `group.send` requests (no outbox write, no
 * retry of a refused or lost send), so acks, latencies and error counts are the server's;
 * no reconnection, so a dropped connection shows as a close and its sends as errors; no
 * application pings and no group catch-up, so the only traffic is the benchmark's.
 */
import { ParleyClient } from "../sdk/index.js";
import { nodeWebSocket } from "../sdk/node.js";
import type { Message } from "../protocol/frames.js";

/**
 * Long enough that a slow reply under load counts as latency, not as an error: the old
 * benchmark client waited for every reply, and the figures stay comparable.
 */
const BENCH_REQUEST_TIMEOUT_MS = 10 * 60_000;

/**
 * Connects `userId`'s benchmark client and resolves once it is open and caught up (the
 * SDK's one `sync` after the hello: empty for a fresh user). Rejects when the connection
 * cannot be made; the client is closed then.
 */
export async function openBenchClient(url: string, token: string, deviceId = "bench"): Promise<ParleyClient> {
  const client = new ParleyClient({
    url,
    token,
    deviceId,
    WebSocket: nodeWebSocket,
    reconnect: false,
    pingIntervalMs: 0,
    syncGroups: false,
    requestTimeoutMs: BENCH_REQUEST_TIMEOUT_MS,
  });
  try {
    await client.connect();
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

/** A direct message as one `send` request; resolves with the stored message, rejects with the server's error. */
export async function sendDirect(client: ParleyClient, to: string, text: string, clientMessageId: string): Promise<Message> {
  return (await client.request({ type: "send", to, clientMessageId, body: { text } })).message;
}

/** A group message as one `group.send` request; resolves with the stored message, rejects with the server's error. */
export async function sendGroupMessage(client: ParleyClient, groupId: string, text: string, clientMessageId: string): Promise<Message> {
  return (await client.request({ type: "group.send", groupId, clientMessageId, body: { text } })).message;
}

/** The id of a connected client's user (every bench client is connected before it is handed out). */
export function userIdOf(client: ParleyClient): string {
  const userId = client.userId;
  if (userId === null) throw new Error("the benchmark client has no hello yet");
  return userId;
}
