import type { IncomingMessage, ServerResponse } from "node:http";

/** Headers a client of the asset API reads: retry hints, file names, ranges, validators, auth challenges. */
const EXPOSED_HEADERS = ["Retry-After", "Content-Disposition", "Content-Range", "Content-Length", "Accept-Ranges", "ETag", "WWW-Authenticate"];
const ALLOWED_METHODS = ["GET", "HEAD", "POST"];
const ALLOWED_HEADERS = ["Authorization", "Content-Type", "Range", "If-Range"];
/** How long a browser may reuse a preflight answer. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * Cross-origin access to the asset API for web apps served from other origins than the
 * API. `allowedOrigins` lists them exactly (`https://chat.example.com`), or holds `*` for
 * any; empty (the default) allows none, and the web messenger `parley dev` serves needs
 * nothing, being same-origin. Credentials are bearer tokens in a header, never cookies,
 * so no Access-Control-Allow-Credentials.
 */
export class AssetCors {
  private readonly anyOrigin: boolean;
  private readonly origins: ReadonlySet<string>;

  constructor(allowedOrigins: readonly string[]) {
    this.anyOrigin = allowedOrigins.includes("*");
    this.origins = new Set(allowedOrigins);
  }

  /**
   * Sets the CORS headers for an allowed origin and answers a preflight. Returns true when
   * the request was a preflight and has been answered (204, or 403 for an origin not allowed).
   */
  apply(request: IncomingMessage, response: ServerResponse): boolean {
    const origin = request.headers.origin;
    const preflight = request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined;
    if (origin === undefined) return false;
    response.appendHeader("Vary", "Origin");
    const allowed = this.anyOrigin || this.origins.has(origin);
    if (allowed) {
      response.setHeader("Access-Control-Allow-Origin", origin);
      response.setHeader("Access-Control-Expose-Headers", EXPOSED_HEADERS.join(", "));
    }
    if (!preflight) return false;
    if (!allowed) {
      const body = JSON.stringify({ error: `origin ${origin} may not use the asset API: add it to PARLEY_ASSET_CORS_ORIGINS`, code: "forbidden" });
      response.writeHead(403, { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)), "Cache-Control": "no-store" });
      response.end(body);
      return true;
    }
    response.writeHead(204, {
      "Access-Control-Allow-Methods": ALLOWED_METHODS.join(", "),
      "Access-Control-Allow-Headers": ALLOWED_HEADERS.join(", "),
      "Access-Control-Max-Age": String(PREFLIGHT_MAX_AGE_SECONDS),
      "Content-Length": "0",
    });
    response.end();
    return true;
  }
}
