import { ParleyError } from "./errors.js";
import { xhrUpload, type HttpReply, type XhrConstructor } from "./xhr-upload.js";

/** What the server answers to an upload. `contentType` is detected from the bytes. */
export interface AssetInfo {
  assetId: string;
  contentType: string;
  size: number;
  sha256: string;
}

export interface UploadOptions {
  /** Called as bytes go out (browsers: XMLHttpRequest), and once at the end with every byte sent (Node.js: only then, fetch has no upload progress). */
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

type UploadData = Blob | ArrayBuffer | Uint8Array;

/** Images and files over HTTP (docs/protocol.md section 19); reach them as `client.assets`. */
export class AssetsApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: () => Promise<string>,
    private readonly fetchImpl: typeof fetch,
    /** Uploads go through it when there is one (browsers), for their progress; otherwise fetch. */
    private readonly Xhr: XhrConstructor | null,
  ) {}

  /** Uploads bytes; put the returned `assetId` in a message's `body.assets` to share it. */
  async upload(data: UploadData, options: UploadOptions = {}): Promise<AssetInfo> {
    const body = data instanceof Uint8Array ? new Blob([data as Uint8Array<ArrayBuffer>]) : data instanceof Blob ? data : new Blob([data]);
    const url = new URL("/v1/assets", this.baseUrl).toString();
    const headers = { Authorization: `Bearer ${await this.token()}` };
    const { onProgress, signal } = options;
    let reply: HttpReply;
    if (this.Xhr) {
      reply = await xhrUpload(this.Xhr, url, headers, body, {
        // The last report comes below, once the server has the asset: 100 % means stored, not just sent.
        ...(onProgress ? { onProgress: (sent: number) => { if (sent < body.size) onProgress(sent, body.size); } } : {}),
        ...(signal ? { signal } : {}),
      });
    } else {
      reply = await replyOf(await this.fetchImpl(url, { method: "POST", headers, body, ...(signal ? { signal } : {}) }));
    }
    const info = readJson(reply, "upload") as AssetInfo;
    onProgress?.(body.size, body.size);
    return info;
  }

  /** A short-lived signed URL that needs no token (fit for `<img src>`); ask anew for every use. */
  async link(assetId: string): Promise<{ url: string; expiresAt: string }> {
    const response = await this.fetchImpl(new URL(`/v1/assets/${encodeURIComponent(assetId)}/link`, this.baseUrl), {
      method: "POST",
      headers: { Authorization: `Bearer ${await this.token()}` },
    });
    const link = readJson(await replyOf(response), "link") as { url: string; expiresAt: string };
    return { url: new URL(link.url, this.baseUrl).toString(), expiresAt: link.expiresAt };
  }

  /** Downloads an asset; the Blob's `type` is the asset's content type. */
  async download(assetId: string, options: { signal?: AbortSignal } = {}): Promise<Blob> {
    const { url } = await this.link(assetId);
    const response = await this.fetchImpl(url, options.signal ? { signal: options.signal } : {});
    if (!response.ok) readJson(await replyOf(response), "download");
    return response.blob();
  }
}

async function replyOf(response: Response): Promise<HttpReply> {
  return { status: response.status, text: await response.text(), retryAfter: response.headers.get("retry-after") };
}

/** The reply's JSON when its status is 2xx; otherwise a ParleyError `http` with the status and the server's error. */
function readJson(reply: HttpReply, what: string): unknown {
  const { status, text } = reply;
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: reported below with the status
  }
  if (status >= 200 && status < 300) return parsed;
  const body = (parsed ?? {}) as { error?: string; code?: string };
  const retryAfter = Number(reply.retryAfter);
  throw new ParleyError(
    "http",
    `asset ${what} failed with HTTP ${status}${body.code ? ` ${body.code}` : ""}: ${body.error ?? text}`,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    status,
  );
}
