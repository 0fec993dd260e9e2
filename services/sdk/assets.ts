import { ParleyError } from "./errors.js";

/** What the server answers to an upload. `contentType` is detected from the bytes. */
export interface AssetInfo {
  assetId: string;
  contentType: string;
  size: number;
  sha256: string;
}

export interface UploadOptions {
  /** Called as bytes go out (browsers with XMLHttpRequest) or once at the end (fetch). */
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
  ) {}

  /** Uploads bytes; put the returned `assetId` in a message's `body.assets` to share it. */
  async upload(data: UploadData, options: UploadOptions = {}): Promise<AssetInfo> {
    const body = data instanceof Uint8Array ? new Blob([data as Uint8Array<ArrayBuffer>]) : data instanceof Blob ? data : new Blob([data]);
    const response = await this.fetchImpl(new URL("/v1/assets", this.baseUrl), {
      method: "POST",
      headers: { Authorization: `Bearer ${await this.token()}` },
      body,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const info = (await readJson(response, "upload")) as AssetInfo;
    options.onProgress?.(body.size, body.size);
    return info;
  }

  /** A short-lived signed URL that needs no token (fit for `<img src>`); ask anew for every use. */
  async link(assetId: string): Promise<{ url: string; expiresAt: string }> {
    const response = await this.fetchImpl(new URL(`/v1/assets/${encodeURIComponent(assetId)}/link`, this.baseUrl), {
      method: "POST",
      headers: { Authorization: `Bearer ${await this.token()}` },
    });
    const link = (await readJson(response, "link")) as { url: string; expiresAt: string };
    return { url: new URL(link.url, this.baseUrl).toString(), expiresAt: link.expiresAt };
  }

  /** Downloads an asset; the Blob's `type` is the asset's content type. */
  async download(assetId: string, options: { signal?: AbortSignal } = {}): Promise<Blob> {
    const { url } = await this.link(assetId);
    const response = await this.fetchImpl(url, options.signal ? { signal: options.signal } : {});
    if (!response.ok) await readJson(response, "download");
    return response.blob();
  }
}

async function readJson(response: Response, what: string): Promise<unknown> {
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: reported below with the status
  }
  if (response.ok) return parsed;
  const body = (parsed ?? {}) as { error?: string; code?: string };
  const retryAfter = Number(response.headers.get("retry-after"));
  throw new ParleyError(
    "http",
    `asset ${what} failed with HTTP ${response.status}${body.code ? ` ${body.code}` : ""}: ${body.error ?? text}`,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    response.status,
  );
}
