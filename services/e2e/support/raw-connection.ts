import { EventEmitter } from "node:events";
import WebSocket from "ws";
import { PROTOCOL_SUBPROTOCOL, type ClientFrame, type ServerFrame } from "../../protocol/frames.js";

type HelloFrame = Extract<ServerFrame, { type: "hello" }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The HTTP answer of an upgrade the server refused (401, 429, ...), which the SDK does not expose. */
export class UpgradeRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with HTTP ${status}: ${body}`);
    this.name = "UpgradeRefusedError";
  }
}

export interface RawConnectionOptions {
  url: string;
  token: string;
  deviceId?: string;
}

/**
 * A bare protocol connection for tests of how the server treats clients that misbehave or
 * that the SDK hides: it sees the refused upgrade's status and body, writes raw frames,
 * stops reading its socket, and never reconnects or syncs. Apps use the SDK
 * (services/sdk) instead; so do tests of well-behaved clients.
 */
export class RawConnection extends EventEmitter<{ close: [code: number, reason: string] }> {
  private readonly replies = new Map<string, (frame: ServerFrame) => void>();
  private requestCounter = 0;

  private constructor(
    private readonly socket: WebSocket,
    readonly hello: HelloFrame,
  ) {
    super();
    socket.on("message", (data) => {
      const frame = decode(data);
      const id = "id" in frame ? frame.id : undefined;
      if (id === undefined) return;
      this.replies.get(id)?.(frame);
      this.replies.delete(id);
    });
    socket.on("close", (code, reason) => this.emit("close", code, reason.toString()));
    // A close follows every socket error; the test looks at that.
    socket.on("error", () => undefined);
  }

  /** Opens a connection (token in the Authorization header); rejects with UpgradeRefusedError when the server refuses the upgrade. */
  static async open(options: RawConnectionOptions): Promise<RawConnection> {
    const url = new URL(options.url);
    if (options.deviceId !== undefined) url.searchParams.set("device", options.deviceId);
    const socket = new WebSocket(url, [PROTOCOL_SUBPROTOCOL], { headers: { Authorization: `Bearer ${options.token}` }, perMessageDeflate: false });
    const hello = await new Promise<HelloFrame>((resolve, reject) => {
      socket.once("unexpected-response", (_request, response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => { reject(new UpgradeRefusedError(response.statusCode ?? 0, body)); });
      });
      socket.once("error", reject);
      socket.once("close", (code) => { reject(new Error(`connection closed before hello (${code})`)); });
      socket.once("message", (data) => {
        const frame = decode(data);
        if (frame.type === "hello") resolve(frame);
        else reject(new Error(`expected hello, got ${frame.type}`));
      });
    });
    socket.removeAllListeners();
    return new RawConnection(socket, hello);
  }

  get readyState(): number {
    return this.socket.readyState;
  }

  /** Sends a frame with a fresh id and resolves with the server's answer, error frames included. */
  request(frame: DistributiveOmit<ClientFrame, "id">): Promise<ServerFrame> {
    const id = `raw-${++this.requestCounter}`;
    return new Promise((resolve, reject) => {
      this.replies.set(id, resolve);
      this.socket.send(JSON.stringify({ ...frame, id }), (error) => {
        if (!error) return;
        this.replies.delete(id);
        reject(error);
      });
    });
  }

  /** Stops reading from the socket, as a stalled client would. */
  pauseReading(): void {
    (this.socket as unknown as { _socket: { pause(): void } })._socket.pause();
  }

  resumeReading(): void {
    (this.socket as unknown as { _socket: { resume(): void } })._socket.resume();
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => { resolve(); });
      this.socket.close(1000);
    });
  }
}

function decode(data: WebSocket.RawData): ServerFrame {
  const text = Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data as ArrayBuffer).toString();
  return JSON.parse(text) as ServerFrame;
}
