import type { IncomingMessage, ServerResponse } from "node:http";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { TokenAuthority } from "../auth/tokens.js";
import { InvalidTokenError } from "../auth/tokens.js";
import type { HttpApi } from "../runtime/http-server.js";
import type { Logger } from "../runtime/logger.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import { AssetId, type UserId } from "../protocol/ids.js";
import { AssetTooLargeError, LinkRefusedError, UnsupportedContentTypeError, UploadLengthMismatchError, type AssetService } from "./asset-service.js";
import { parseRange } from "./byte-range.js";
import { AssetCors } from "./cors.js";
import { EXTENSIONS, isAllowed } from "./content-type.js";
import { InFlightLimiter, type FullScope, type Held, type TransferLimits } from "./transfer-limits.js";

/** The `code` of every asset HTTP error body: stable, for clients to switch on. */
export const AssetErrorCode = {
  badRequest: "bad_request",
  unauthorized: "unauthorized",
  forbidden: ErrorCode.forbidden,
  badSignature: "bad_signature",
  notFound: ErrorCode.notFound,
  methodNotAllowed: "method_not_allowed",
  linkExpired: "link_expired",
  lengthRequired: "length_required",
  tooLarge: "too_large",
  unsupportedMediaType: "unsupported_media_type",
  rangeNotSatisfiable: "range_not_satisfiable",
  tooManyRequests: "too_many_requests",
  unavailable: ErrorCode.unavailable,
  internal: ErrorCode.internal,
} as const;
export type AssetErrorCode = (typeof AssetErrorCode)[keyof typeof AssetErrorCode];

const PREFIX = "/v1/assets";

/**
 * The Retry-After of a refusal for being at a cap: about how long a large upload or
 * download takes on a good connection, so a retry is likely to find room.
 */
const RETRY_AFTER_SECONDS = 5;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: AssetErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export interface AssetHttpDependencies {
  service: AssetService;
  tokens: Pick<TokenAuthority, "verify">;
  /** The same bound the gateways apply (PARLEY_MAX_TOKEN_LIFETIME_SECONDS): a token refused at /ws is refused here too. */
  maxTokenLifetimeSeconds: number;
  logger: Logger;
  limits: TransferLimits;
  /** Origins of web apps on other origins that may call the API (PARLEY_ASSET_CORS_ORIGINS); `*` for any. Default none. */
  corsOrigins?: readonly string[];
}

/**
 * The asset endpoints:
 * - `POST /v1/assets` (bearer token, raw body) uploads; 201 with the asset.
 * - `POST /v1/assets/<id>/link` (bearer token) signs a download link for the caller.
 * - `GET /v1/assets/<id>?user=…&expires=…&signature=…` downloads through such a link,
 *   whole or one `Range: bytes=` range of it.
 * Every error is JSON `{ error, code }`. Bodies stream both ways: neither direction holds
 * an asset in memory. Uploads in flight and download bytes still to send are capped per
 * user (429) and per process (503), both with Retry-After; a download whose client stops
 * reading is cut off after the idle timeout. Origins in `corsOrigins` get CORS headers
 * and preflight answers (OPTIONS), so web apps served elsewhere can use the API.
 */
export class AssetHttpApi implements HttpApi {
  private readonly uploads: InFlightLimiter;
  private readonly downloads: InFlightLimiter;
  private readonly cors: AssetCors;

  constructor(private readonly deps: AssetHttpDependencies) {
    const { limits } = deps;
    this.cors = new AssetCors(deps.corsOrigins ?? []);
    this.uploads = new InFlightLimiter(limits.uploadsInFlight, limits.uploadsInFlightPerUser);
    this.downloads = new InFlightLimiter(limits.downloadBytesInFlight, limits.downloadBytesInFlightPerUser);
  }

  async handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> {
    if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) return false;
    if (this.cors.apply(request, response)) return true;
    try {
      await this.route(request, response, path);
    } catch (error) {
      this.fail(request, response, error);
    }
    return true;
  }

  private async route(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    if (path === PREFIX) {
      allow(request, ["POST"]);
      await this.upload(request, response);
      return;
    }
    const segments = path.slice(PREFIX.length + 1).split("/");
    const [id, action] = segments;
    if (segments.length === 1 && id !== undefined) {
      allow(request, ["GET", "HEAD"]);
      await this.download(request, response, id);
    } else if (segments.length === 2 && id !== undefined && action === "link") {
      allow(request, ["POST"]);
      await this.link(request, response, id);
    } else {
      throw new HttpError(404, AssetErrorCode.notFound, "not found");
    }
  }

  private async upload(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const userId = await this.authenticate(request);
    const declared = declaredLength(request);
    const { service } = this.deps;
    if (declared > service.maxUploadBytes) throw new AssetTooLargeError(declared, service.maxUploadBytes, null);
    if (declared === 0) throw new HttpError(400, AssetErrorCode.badRequest, "the upload is empty");
    const reservation = this.uploads.reserve(userId, 1);
    if (!reservation.ok) throw atCap(reservation.full, "uploads");
    let asset;
    try {
      asset = await service.uploadStream(userId, request, declared);
    } finally {
      reservation.release();
    }
    this.deps.logger.debug({ assetId: asset.assetId, userId, size: asset.size, contentType: asset.contentType }, "asset uploaded");
    sendJson(response, 201, { assetId: asset.assetId, contentType: asset.contentType, size: asset.size, sha256: asset.sha256 });
  }

  private async link(request: IncomingMessage, response: ServerResponse, rawId: string): Promise<void> {
    const userId = await this.authenticate(request);
    const assetId = parseAssetId(rawId);
    const link = await this.deps.service.createLink(userId, assetId);
    sendJson(response, 200, { url: link.url, expiresAt: link.expiresAt.toISOString() });
  }

  private async download(request: IncomingMessage, response: ServerResponse, rawId: string): Promise<void> {
    const assetId = parseAssetId(rawId);
    const query = new URL(request.url ?? "/", "http://localhost").searchParams;
    const { service, limits } = this.deps;
    const opened = await service.openLink({
      assetId,
      user: query.get("user"),
      expires: query.get("expires"),
      signature: query.get("signature"),
    });
    // A link is for its user: a request that also says who it is must say the same.
    if (request.headers.authorization !== undefined && (await this.authenticate(request)) !== opened.userId) {
      throw new HttpError(403, AssetErrorCode.forbidden, "this link was made for another user");
    }
    const { record } = opened;
    // Content-addressed bytes never change under an asset: its hash is a strong ETag.
    const etag = `"${record.sha256}"`;
    const ifRange = request.headers["if-range"];
    const range = ifRange === undefined || ifRange === etag ? parseRange(request.headers.range, record.size) : { kind: "whole" as const };
    if (range.kind === "unsatisfiable") {
      throw new HttpError(416, AssetErrorCode.rangeNotSatisfiable, `the asset has ${record.size} bytes`, { "Content-Range": `bytes */${record.size}` });
    }
    const extension = isAllowed(record.contentType) ? EXTENSIONS[record.contentType] : "bin";
    const length = range.kind === "partial" ? range.end - range.start + 1 : record.size;
    const headers: Record<string, string> = {
      "Content-Type": record.contentType,
      "Content-Length": String(length),
      "Content-Disposition": `attachment; filename="${record.assetId}.${extension}"`,
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "Cache-Control": `private, max-age=${opened.secondsLeft}`,
      "Accept-Ranges": "bytes",
      ETag: etag,
      ...(range.kind === "partial" ? { "Content-Range": `bytes ${range.start}-${range.end}/${record.size}` } : {}),
    };
    const status = range.kind === "partial" ? 206 : 200;
    if (request.method === "HEAD") {
      response.writeHead(status, headers);
      response.end();
      return;
    }

    const reservation = this.downloads.reserve(opened.userId, length);
    if (!reservation.ok) throw atCap(reservation.full, "download bytes");
    // The bytes still to send are held: each chunk frees its share as it is handed to the
    // socket (so a slow reader holds only what it has not taken yet), and whatever is left
    // is freed when the response ends, however it ends (finished, cut off, client gone).
    response.once("close", reservation.release);
    const blob = await service.read(record, range.kind === "partial" ? range : undefined);
    response.writeHead(status, headers);
    // The socket times out when nothing moves on it: a client that stops reading fills the
    // socket buffers, writes stall, and the download is cut off.
    response.setTimeout(limits.downloadIdleTimeoutMs, () => {
      this.deps.logger.info({ assetId, userId: opened.userId, idleMs: limits.downloadIdleTimeoutMs }, "asset download cut off: the client stopped reading");
      response.destroy();
    });
    try {
      // pipeline: the file or S3 stream is read only as fast as the client takes it.
      await pipeline(blob.stream, countedAsSent(reservation), response);
    } catch (error) {
      // A failing store is worth a log line; a client gone or cut off is not.
      if (blob.stream.errored !== null) throw error;
      throw new ClientGoneError(error instanceof Error ? error.message : String(error));
    }
  }

  private async authenticate(request: IncomingMessage): Promise<UserId> {
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer +([^\s]+)\s*$/i.exec(header);
    const token = match?.[1];
    if (token === undefined) throw unauthorized("an Authorization: Bearer <token> header is required");
    try {
      return (await this.deps.tokens.verify(token, { maxLifetimeSeconds: this.deps.maxTokenLifetimeSeconds })).userId;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw unauthorized(error.message);
      throw error;
    }
  }

  private fail(request: IncomingMessage, response: ServerResponse, error: unknown): void {
    // The client went away mid-request (an upload cut short, a download abandoned): nothing to answer.
    if (error instanceof ClientGoneError || request.socket.destroyed) {
      response.destroy();
      return;
    }
    const refusal = toHttpError(error);
    if (refusal === null) this.deps.logger.error({ err: error, url: request.url }, "asset request failed");
    const { status, code, message, headers } = refusal ?? new HttpError(500, AssetErrorCode.internal, "internal error");
    if (response.headersSent) {
      response.destroy();
      return;
    }
    // A refused upload may still be arriving: answer, then close rather than read the rest.
    if (!request.complete) response.setHeader("Connection", "close");
    sendJson(response, status, { error: message, code }, headers);
  }
}

/** The client went away mid-request: nothing to answer. */
class ClientGoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClientGoneError";
  }
}

function toHttpError(error: unknown): HttpError | null {
  if (error instanceof HttpError) return error;
  if (error instanceof AssetTooLargeError) return new HttpError(413, AssetErrorCode.tooLarge, error.message);
  if (error instanceof UploadLengthMismatchError) return new HttpError(400, AssetErrorCode.badRequest, error.message);
  if (error instanceof UnsupportedContentTypeError) return new HttpError(415, AssetErrorCode.unsupportedMediaType, error.message);
  if (error instanceof ProtocolError) {
    if (error.code === ErrorCode.notFound) return new HttpError(404, AssetErrorCode.notFound, error.message);
    if (error.code === ErrorCode.forbidden) return new HttpError(403, AssetErrorCode.forbidden, error.message);
    return null;
  }
  if (error instanceof LinkRefusedError) {
    switch (error.reason) {
      case "malformed":
        return new HttpError(400, AssetErrorCode.badRequest, error.message);
      case "bad_signature":
        return new HttpError(403, AssetErrorCode.badSignature, error.message);
      case "expired":
        return new HttpError(410, AssetErrorCode.linkExpired, error.message);
      case "forbidden":
        return new HttpError(403, AssetErrorCode.forbidden, error.message);
      case "not_found":
        return new HttpError(404, AssetErrorCode.notFound, error.message);
    }
  }
  return null;
}

/** The refusal for a full cap: the user's own is theirs to wait out (429), the process's is ours (503). */
function atCap(full: FullScope, what: string): HttpError {
  const retryAfter = { "Retry-After": String(RETRY_AFTER_SECONDS) };
  return full === "user"
    ? new HttpError(429, AssetErrorCode.tooManyRequests, `you have as many ${what} in flight as one user may; retry later`, retryAfter)
    : new HttpError(503, AssetErrorCode.unavailable, `this server has as many ${what} in flight as it takes; retry later`, retryAfter);
}

function allow(request: IncomingMessage, methods: readonly string[]): void {
  if (!methods.includes(request.method ?? "")) {
    throw new HttpError(405, AssetErrorCode.methodNotAllowed, `use ${methods.join(" or ")}`, { Allow: methods.join(", ") });
  }
}

function parseAssetId(raw: string): AssetId {
  const parsed = AssetId.safeParse(raw);
  if (!parsed.success) throw new HttpError(400, AssetErrorCode.badRequest, "asset ids look like a followed by 26 ULID characters");
  return parsed.data;
}

function declaredLength(request: IncomingMessage): number {
  const header = request.headers["content-length"];
  if (header === undefined || request.headers["transfer-encoding"] !== undefined) {
    throw new HttpError(411, AssetErrorCode.lengthRequired, "uploads need a Content-Length header (no chunked encoding)");
  }
  if (!/^[0-9]{1,15}$/.test(header)) throw new HttpError(400, AssetErrorCode.badRequest, "Content-Length is not a byte count");
  return Number(header);
}

function unauthorized(message: string): HttpError {
  return new HttpError(401, AssetErrorCode.unauthorized, message, { "WWW-Authenticate": 'Bearer realm="parley"' });
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    "Content-Type": "application/json",
    "Content-Length": String(Buffer.byteLength(text)),
    "Cache-Control": "no-store",
  });
  response.end(text);
}

/**
 * Passes chunks through, freeing each one's bytes from the download's reservation as the
 * response takes it. The response takes a chunk only while its buffer is below its high
 * water mark, so what is counted as sent but still buffered is a few KiB plus the socket's
 * kernel buffer, never the rest of the asset.
 */
function countedAsSent(reservation: Held): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      reservation.shrink(chunk.byteLength);
      done(null, chunk);
    },
  });
}
