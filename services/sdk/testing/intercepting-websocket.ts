import WebSocket from "ws";
import type { WebSocketConstructor, WebSocketLike } from "../types.js";

export interface Interception {
  /** Every frame the client sent, parsed, on every socket. */
  sent: { type: string; clientMessageId?: string }[];
  /** Return false to hide a server frame from the client. */
  onReceive?: (frame: { type: string }, socket: InterceptedSocket) => boolean;
  sockets: InterceptedSocket[];
}

export interface InterceptedSocket extends WebSocketLike {
  /** Drops the TCP connection without a close frame, as a network failure would. */
  terminate(): void;
}

/** A `ws` WebSocket for the SDK that records what it sends and can hide frames and drop the connection: for tests. */
export function interceptingWebSocket(): { WebSocket: WebSocketConstructor; interception: Interception } {
  const interception: Interception = { sent: [], sockets: [] };
  class Intercepted implements InterceptedSocket {
    onopen: ((event: unknown) => void) | null = null;
    onmessage: ((event: { data: unknown }) => void) | null = null;
    onclose: ((event: { code: number; reason: string }) => void) | null = null;
    onerror: ((event: unknown) => void) | null = null;
    private readonly inner: WebSocket;

    constructor(url: string, protocols: string[]) {
      this.inner = new WebSocket(url, protocols);
      interception.sockets.push(this);
      this.inner.onopen = (event) => this.onopen?.(event);
      this.inner.onerror = (event) => this.onerror?.(event);
      this.inner.onclose = (event) => this.onclose?.({ code: event.code, reason: event.reason });
      this.inner.onmessage = (event) => {
        const frame = JSON.parse(event.data as string) as { type: string };
        if (interception.onReceive?.(frame, this) === false) return;
        this.onmessage?.({ data: event.data });
      };
    }

    get readyState(): number {
      return this.inner.readyState;
    }

    send(data: string): void {
      interception.sent.push(JSON.parse(data) as { type: string });
      this.inner.send(data);
    }

    close(code?: number, reason?: string): void {
      this.inner.close(code, reason);
    }

    terminate(): void {
      this.inner.terminate();
    }
  }
  return { WebSocket: Intercepted, interception };
}
