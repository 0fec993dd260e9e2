#!/usr/bin/env node
/**
 * The bare `ws` baseline of the benchmark suite: what a WebSocket server does with no
 * storage, no authentication and no protocol, as a measure of the floor under Parley's
 * figures on the same machine. A client connects to `/?user=<id>&room=<name>`; a text
 * frame naming `"to":"<user>"` is relayed to that user and acknowledged to the sender
 * (`{"ack":<id>}`), one naming `"room":"<name>"` is broadcast, encoded once, to every
 * connection in the room and acknowledged too. Prints `listening <port>` when ready.
 */
import { createServer } from "node:http";
import { WebSocketServer, type WebSocket } from "ws";

const byUser = new Map<string, WebSocket>();
const rooms = new Map<string, Set<WebSocket>>();
const TO = /"to":"([^"]+)"/;
const ROOM = /"room":"([^"]+)"/;
const ID = /"id":(\d+)/;

const server = createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
wss.on("connection", (socket, request) => {
  const query = new URL(request.url ?? "/", "http://localhost").searchParams;
  const user = query.get("user") ?? "";
  const room = query.get("room");
  byUser.set(user, socket);
  if (room !== null) {
    const members = rooms.get(room) ?? new Set();
    members.add(socket);
    rooms.set(room, members);
  }
  socket.on("message", (data: Buffer) => {
    const text = data.toString("utf8");
    const id = ID.exec(text)?.[1] ?? "0";
    const to = TO.exec(text)?.[1];
    if (to !== undefined) {
      byUser.get(to)?.send(text);
    } else {
      const name = ROOM.exec(text)?.[1];
      const members = name === undefined ? undefined : rooms.get(name);
      if (members) {
        const encoded = Buffer.from(text);
        for (const member of members) member.send(encoded, { binary: false });
      }
    }
    socket.send(`{"ack":${id}}`);
  });
  socket.on("close", () => {
    if (byUser.get(user) === socket) byUser.delete(user);
    if (room !== null) rooms.get(room)?.delete(socket);
  });
  socket.on("error", () => undefined);
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === "object" && address !== null ? String(address.port) : "?"}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  process.exit(0);
});
