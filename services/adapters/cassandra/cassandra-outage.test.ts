import { createServer, connect, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CassandraMessageStore } from "./cassandra-message-store.js";
import { STATEMENT_DEADLINE_MS } from "./cassandra-options.js";
import { connectTestClient, dropKeyspace, testCassandraOptions } from "./testing/test-keyspace.js";

/**
 * A TCP proxy in front of the shared test Cassandra that the test can cut (every
 * connection dropped, new ones refused) and restore: a Cassandra restart as the driver
 * sees it, without restarting the node other tests use.
 */
class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  /** While set, new connections are accepted and never forwarded (a node that accepts but does not answer). */
  stalled = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      if (this.stalled) {
        this.sockets.add(client);
        client.on("close", () => this.sockets.delete(client));
        client.on("error", () => undefined);
        return;
      }
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    this.port = address.port;
    this.server = server;
  }

  /** Drops every connection and refuses new ones until open() again (same port). */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  }
}

describe("CassandraMessageStore when Cassandra goes away and comes back", () => {
  const [host = "127.0.0.1", port = "9042"] = testCassandraOptions("x").contactPoints[0]?.split(":") ?? [];
  const proxy = new CuttableProxy({ host, port: Number(port) });
  const options = testCassandraOptions("outage");
  let store: CassandraMessageStore;

  beforeAll(async () => {
    await proxy.open();
    store = await CassandraMessageStore.open({ ...options, contactPoints: [`127.0.0.1:${proxy.port}`] });
  });

  afterAll(async () => {
    await store.close();
    await proxy.cut();
    const admin = await connectTestClient();
    await dropKeyspace(admin, options.keyspace);
    await admin.shutdown();
  });

  it("settles every call made while Cassandra hangs or is gone, and stores again soon after it is back", async () => {
    let n = 0;
    const send = (): Promise<unknown> =>
      store.appendDirectMessage({ senderId: "alice", senderDeviceId: "d", recipientId: `bob${n % 4}`, clientMessageId: `m${++n}`, body: { text: "hi" }, sentAt: new Date() });
    await send();
    const during: Promise<string>[] = [];
    const settle = (call: Promise<unknown>): Promise<string> => call.then(() => "ok", (error: unknown) => (error instanceof Error ? error.name : "error"));
    const traffic = setInterval(() => during.push(settle(send())), 100);
    try {
      // First the node hangs: connections open, nothing answered (a stopping or overloaded node).
      await proxy.cut();
      proxy.stalled = true;
      await proxy.open();
      await delay(8_000);
      // Then it is gone: connections refused, for long enough that a driver backing off
      // exponentially would wait many seconds before trying again.
      await proxy.cut();
      await delay(12_000);
      proxy.stalled = false;
      await proxy.open();
      const backAt = Date.now();
      // Each call gets its own attempt: the first to succeed tells when the store is back.
      let recoveredAfterMs: number | undefined;
      while (recoveredAfterMs === undefined && Date.now() - backAt < 30_000) {
        if ((await settle(send())) === "ok") recoveredAfterMs = Date.now() - backAt;
        else await delay(100);
      }
      expect(recoveredAfterMs).toBeDefined();
      expect(recoveredAfterMs).toBeLessThan(RECOVERY_BOUND_MS);
    } finally {
      clearInterval(traffic);
    }
    // Every call made during the outage settles (an answer or an error), none hangs: a
    // call that never settles would hold its conversation's lock, and every later call.
    const outcomes = await Promise.all(during.map((call) => Promise.race([call, delay(STATEMENT_DEADLINE_MS + 5_000).then(() => "pending")])));
    expect(outcomes).not.toContain("pending");
    expect(outcomes).toContain("ok");
  }, 120_000);
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The driver tries to reconnect at least every 2 s; the rest is slack for a loaded machine. */
const RECOVERY_BOUND_MS = 6_000;
