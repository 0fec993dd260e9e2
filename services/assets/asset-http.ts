import type { IncomingMessage, ServerResponse } from "node:http";
import type { TokenAuthority } from "../auth/tokens.js";
import { InvalidTokenError } from "../auth/tokens.js";
import type { HttpApi } from "../runtime/http-server.js";
import type { Logger } from "../runtime/logger.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import { AssetId, type UserId } from "../protocol/ids.js";
import { AssetTooLargeError, LinkRefusedError, UnsupportedContentTypeError, type AssetService } from "./asset-service.js";
import { detectContentType, EXTENSIONS, isAllowed, type AssetKind } from "./content-type.js";

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
  internal: ErrorCode.internal,
} as const;
export type AssetErrorCode = (typeof AssetErrorCode)[keyof typeof AssetErrorCode];

const PREFIX = "/v1/assets";

/**
 * Bytes read before the type is sniffed to apply the limit of its kind while the body
 * still streams (file-type's own sample size). The authoritative detection runs on the
 * whole body.
 */
const SNIFF_BYTES = 4100;

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
  logger: Logger;
}

/**
 * The asset endpoints:
 * - `POST /v1/assets` (bearer token, raw body) uploads; 201 with the asset.
 * - `POST /v1/assets/<id>/link` (bearer token) signs a download link for the caller.
 * - `GET /v1/assets/<id>?user=…&expires=…&signature=…` downloads through such a link.
 * Every error is JSON `{ error, code }`.
 */
export class AssetHttpApi implements HttpApi {
  constructor(private readonly deps: AssetHttpDependencies) {}

  async handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> {
    if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) return false;
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
    const bytes = await this.readBody(request, declared);
    const asset = await service.upload(userId, bytes);
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
    const opened = await this.deps.service.openLink({
      assetId,
      user: query.get("user"),
      expires: query.get("expires"),
      signature: query.get("signature"),
    });
    // A link is for its user: a request that also says who it is must say the same.
    if (request.headers.authorization !== undefined && (await this.authenticate(request)) !== opened.userId) {
      throw new HttpError(403, AssetErrorCode.forbidden, "this link was made for another user");
    }
    const { record, bytes } = opened;
    const extension = isAllowed(record.contentType) ? EXTENSIONS[record.contentType] : "bin";
    response.writeHead(200, {
      "Content-Type": record.contentType,
      "Content-Length": String(bytes.byteLength),
      "Content-Disposition": `attachment; filename="${record.assetId}.${extension}"`,
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "Cache-Control": `private, max-age=${opened.secondsLeft}`,
    });
    response.end(request.method === "HEAD" ? undefined : bytes);
  }

  private async authenticate(request: IncomingMessage): Promise<UserId> {
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer +([^\s]+)\s*$/i.exec(header);
    const token = match?.[1];
    if (token === undefined) throw unauthorized("an Authorization: Bearer <token> header is required");
    try {
      return (await this.deps.tokens.verify(token)).userId;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw unauthorized(error.message);
      throw error;
    }
  }

  /**
   * Reads exactly `declared` bytes, refusing (413) as soon as the body passes the
   * largest limit, or the limit of its kind once the first bytes show the kind.
   */
  private readBody(request: IncomingMessage, declared: number): Promise<Buffer> {
    const { service } = this.deps;
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let limit = service.maxUploadBytes;
      let kind: AssetKind | null = null;
      let sniffed = false;
      let settled = false;

      const finish = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        request.off("data", onData).off("end", onEnd).off("error", onAbort).off("close", onClose);
        // Stop reading: the refusal closes the connection (see fail()).
        request.pause();
        outcome();
      };
      const onData = (chunk: Buffer): void => {
        received += chunk.byteLength;
        if (received > limit) {
          finish(() => { reject(new AssetTooLargeError(received, limit, kind)); });
          return;
        }
        chunks.push(chunk);
        if (!sniffed && received >= SNIFF_BYTES && received < declared) {
          sniffed = true;
          request.pause();
          detectContentType(Buffer.concat(chunks, received)).then(
            (detection) => {
              if (settled) return;
              if (detection.allowed) {
                kind = detection.kind;
                limit = service.limits[detection.kind];
                if (declared > limit) {
                  finish(() => { reject(new AssetTooLargeError(declared, limit, kind)); });
                  return;
                }
              }
              request.resume();
            },
            (error: unknown) => {
              finish(() => { reject(error instanceof Error ? error : new Error(String(error))); });
            },
          );
        }
      };
      const onEnd = (): void => {
        finish(() => {
          if (received === declared) resolve(Buffer.concat(chunks, received));
          else reject(new HttpError(400, AssetErrorCode.badRequest, `the body has ${received} bytes; Content-Length said ${declared}`));
        });
      };
      const onAbort = (error: Error): void => {
        finish(() => { reject(new ClientGoneError(error.message)); });
      };
      const onClose = (): void => {
        finish(() => { reject(new ClientGoneError("the client closed the connection during the upload")); });
      };
      request.on("data", onData).on("end", onEnd).on("error", onAbort).on("close", onClose);
    });
  }

  private fail(request: IncomingMessage, response: ServerResponse, error: unknown): void {
    if (error instanceof ClientGoneError) {
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
