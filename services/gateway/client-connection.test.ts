import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Metrics } from "../runtime/metrics.js";
import { ClientConnection } from "./client-connection.js";

function connection(frameBurst = 100): ClientConnection {
  // Queueing never touches the socket: a real one, never opened, stands in (ws makes its
  // server-side sockets this way, with no address; its types leave that out).
  const socket = new WebSocket(null as unknown as string, undefined, {});
  return new ClientConnection(socket, { userId: "u", deviceId: "d", connectionId: "c", gatewayId: "g" }, Date.now() + 60_000, { sendBufferBytes: 1_000, framesPerSecond: 100, frameBurst }, new Metrics());
}

/** A task that records its start and finishes when told. */
function task(log: string[], name: string): { run: () => Promise<void>; finish: () => void } {
  let finish: () => void = () => undefined;
  return {
    run: () => {
      log.push(`start ${name}`);
      return new Promise<void>((resolve) => (finish = () => {
        log.push(`end ${name}`);
        resolve();
      }));
    },
    finish: () => {
      finish();
    },
  };
}

const ticks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("a connection's frame queue", () => {
  it("starts a burst of plain sends in order without waiting for the replies before them", async () => {
    const log: string[] = [];
    const c = connection();
    const sends = ["a", "b", "c"].map((name) => task(log, name));
    for (const send of sends) c.enqueue(send.run, true);
    await ticks();
    expect(log).toEqual(["start a", "start b", "start c"]);
    for (const send of sends) send.finish();
  });

  it("holds any other frame until everything before it is done, and holds sends behind it", async () => {
    const log: string[] = [];
    const c = connection();
    const send = task(log, "send");
    const read = task(log, "read");
    const after = task(log, "after");
    c.enqueue(send.run, true);
    c.enqueue(read.run);
    c.enqueue(after.run, true);
    await ticks();
    expect(log).toEqual(["start send"]);
    send.finish();
    await ticks();
    expect(log).toEqual(["start send", "end send", "start read"]);
    read.finish();
    await ticks();
    expect(log).toEqual(["start send", "end send", "start read", "end read", "start after"]);
    after.finish();
  });

  it("refuses a task once frameBurst tasks are in progress", () => {
    const log: string[] = [];
    const c = connection(2);
    expect(c.enqueue(task(log, "1").run, true)).toBe(true);
    expect(c.enqueue(task(log, "2").run, true)).toBe(true);
    expect(c.enqueue(task(log, "3").run, true)).toBe(false);
  });
});
