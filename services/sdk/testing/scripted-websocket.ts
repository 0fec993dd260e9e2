import type { ServerFrame } from "../../protocol/frames.js";
import type { WebSocketConstructor, WebSocketLike } from "../types.js";

/** A client frame as the scripted server sees it. */
export type ScriptedRequest = { type: string; id: string } & Record<string, unknown>;

export interface ScriptedServer {
  /** Every socket the client opened, in order. */
  sockets: WebSocketLike[];
  /** Every frame the client sent, on every socket. */
  received: ScriptedRequest[];
  /** Replies handed to the client so far. */
  replied: number;
  /** Answers one client frame; return undefined to leave it unanswered. */
  answer: (request: ScriptedRequest) => ServerFrame | undefined;
}

const HELLO: ServerFrame = {
  type: "hello",
  protocol: 1,
  userId: "alice",
  deviceId: "d1",
  connectionId: "c1",
  heartbeatIntervalMs: 0,
  limits: { maxFrameBytes: 65536, framesPerSecond: 50, frameBurst: 100, maxTextLength: 4000, maxPageSize: 200, maxGroupMembers: 1000 },
  tokenExpiresAt: "2999-01-01T00:00:00.000Z",
};

/**
 * An in-process stand-in for a gateway that answers each frame from a script: for SDK
 * tests of replies a real server does not give on demand (overlapping pages, slow
 * answers). Everything else in the SDK is tested against a real platform.
 */
export function scriptedWebSocket(answer: ScriptedServer["answer"] = defaultAnswer): { WebSocket: WebSocketConstructor; server: ScriptedServer } {
  const server: ScriptedServer = { sockets: [], received: [], replied: 0, answer };
  class Scripted implements WebSocketLike {
    readyState = 0;
    onopen: ((event: unknown) => void) | null = null;
    onmessage: ((event: { data: unknown }) => void) | null = null;
    onclose: ((event: { code: number; reason: string }) => void) | null = null;
    onerror: ((event: unknown) => void) | null = null;

    constructor() {
      server.sockets.push(this);
      setImmediate(() => {
        this.readyState = 1;
        this.deliver(HELLO);
      });
    }

    send(data: string): void {
      const request = JSON.parse(data) as ScriptedRequest;
      server.received.push(request);
      const reply = server.answer(request);
      if (reply) {
        setImmediate(() => {
          this.deliver(reply);
          server.replied++;
        });
      }
    }

    close(code = 1000, reason = ""): void {
      if (this.readyState === 3) return;
      this.readyState = 3;
      setImmediate(() => this.onclose?.({ code, reason }));
    }

    private deliver(frame: ServerFrame): void {
      if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(frame) });
    }
  }
  return { WebSocket: Scripted, server };
}

/** An empty account: no inbox events, no groups, every ping answered. */
export function defaultAnswer(request: ScriptedRequest): ServerFrame | undefined {
  switch (request.type) {
    case "sync":
      return { type: "sync.batch", id: request.id, events: [], cursor: 0, hasMore: false };
    case "group.list":
      return { type: "group.list", id: request.id, groups: [] };
    case "ping":
      return { type: "pong", id: request.id };
    default:
      return undefined;
  }
}
