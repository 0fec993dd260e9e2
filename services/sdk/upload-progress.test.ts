import { describe, expect, it } from "vitest";
import { ParleyClient } from "./client.js";
import { scriptedWebSocket } from "./testing/scripted-websocket.js";
import type { XhrConstructor, XhrLike } from "./xhr-upload.js";

/**
 * A browser's XMLHttpRequest as a script: the test says when bytes have gone out and what
 * the server answers. Node.js has no XMLHttpRequest, and upload progress is a browser's
 * to report; the upload itself is tested against a real platform (typed-events.test.ts).
 */
function scriptedXhr(): { XMLHttpRequest: XhrConstructor; next: () => Promise<ScriptedXhr> } {
  const waiting: ((xhr: ScriptedXhr) => void)[] = [];
  const sent: ScriptedXhr[] = [];
  class Scripted extends ScriptedXhr {
    override send(body: Blob): void {
      super.send(body);
      const waiter = waiting.shift();
      if (waiter) waiter(this);
      else sent.push(this);
    }
  }
  return {
    XMLHttpRequest: Scripted,
    next: () => {
      const first = sent.shift();
      return first ? Promise.resolve(first) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

class ScriptedXhr implements XhrLike {
  method = "";
  url = "";
  readonly headers: Record<string, string> = {};
  body: Blob | null = null;
  aborted = false;
  status = 0;
  responseText = "";
  private responseHeaders: Record<string, string> = {};
  readonly upload: XhrLike["upload"] = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;

  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
  }

  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  send(body: Blob): void {
    this.body = body;
  }

  abort(): void {
    this.aborted = true;
    this.onabort?.();
  }

  getResponseHeader(name: string): string | null {
    return this.responseHeaders[name.toLowerCase()] ?? null;
  }

  /** The browser has sent `loaded` bytes of the body. */
  progress(loaded: number): void {
    this.upload.onprogress?.({ loaded, lengthComputable: true });
  }

  respond(status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.responseHeaders = headers;
    this.onload?.();
  }
}

const ASSET = { assetId: "a01JDZ8K3M4N5P6Q7R8S9T0V1WX", contentType: "image/png", size: 1000, sha256: "ab".repeat(32) };

function clientWith(XMLHttpRequest: XhrConstructor): ParleyClient {
  return new ParleyClient({ url: "ws://127.0.0.1:9/ws", token: "t0k", WebSocket: scriptedWebSocket().WebSocket, XMLHttpRequest });
}

describe("asset upload progress in browsers (XMLHttpRequest)", () => {
  it("reports the bytes sent as they go out, and 100 % only once the server has stored the asset", async () => {
    const xhr = scriptedXhr();
    const progress: [number, number][] = [];
    const uploading = clientWith(xhr.XMLHttpRequest).assets.upload(new Uint8Array(1000), { onProgress: (sent, total) => progress.push([sent, total]) });
    const request = await xhr.next();
    expect(request).toMatchObject({ method: "POST", url: "http://127.0.0.1:9/v1/assets", headers: { Authorization: "Bearer t0k" } });
    expect(request.body?.size).toBe(1000);

    request.progress(250);
    request.progress(600);
    request.progress(1000);
    expect(progress).toEqual([
      [250, 1000],
      [600, 1000],
    ]);
    request.respond(201, ASSET);
    await expect(uploading).resolves.toEqual(ASSET);
    expect(progress.at(-1)).toEqual([1000, 1000]);
  });

  it("rejects a refused upload with a ParleyError carrying the status, the server's code and Retry-After", async () => {
    const xhr = scriptedXhr();
    const uploading = clientWith(xhr.XMLHttpRequest).assets.upload(new Uint8Array(10));
    (await xhr.next()).respond(429, { error: "too many uploads", code: "rate_limited" }, { "retry-after": "2" });
    await expect(uploading).rejects.toMatchObject({ name: "ParleyError", code: "http", status: 429, retryAfterMs: 2000, message: expect.stringContaining("rate_limited") as unknown });
  });

  it("aborts the request when the caller's signal is aborted", async () => {
    const xhr = scriptedXhr();
    const controller = new AbortController();
    const uploading = clientWith(xhr.XMLHttpRequest).assets.upload(new Uint8Array(10), { signal: controller.signal });
    const request = await xhr.next();
    controller.abort();
    await expect(uploading).rejects.toMatchObject({ name: "AbortError" });
    expect(request.aborted).toBe(true);
  });

  it("fails with a TypeError, as fetch does, when the network fails", async () => {
    const xhr = scriptedXhr();
    const uploading = clientWith(xhr.XMLHttpRequest).assets.upload(new Uint8Array(10));
    (await xhr.next()).onerror?.();
    await expect(uploading).rejects.toBeInstanceOf(TypeError);
  });
});
