import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import type { HttpApi } from "./http-server.js";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * What the page may load: its own scripts and styles, images from its own origin and from
 * the blob: URLs of upload previews, and connections to its own origin (the WebSocket and
 * the asset API). Nothing inline, nothing from elsewhere.
 */
const PAGE_POLICY = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** Bundler output under this folder is named by content hash, so it can be cached for good. */
const HASHED_FOLDER = "/assets/";

/**
 * Serves a built single-page app from `root`: `/` is index.html, every other GET or HEAD
 * path is the file of that name if there is one. Anything else (the API, /ws, the
 * probes) falls through to the next handler. Without a build, `/` says how to make one.
 */
export class StaticFilesApi implements HttpApi {
  constructor(
    private readonly root: string,
    /** Shown at `/` when root has no index.html. */
    private readonly missingBuildHint: string,
  ) {}

  async handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> {
    if (request.method !== "GET" && request.method !== "HEAD") return false;
    const file = this.resolve(path === "/" ? "/index.html" : path);
    if (file === undefined) return false;
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      if (path !== "/") return false;
      response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
      response.end(this.missingBuildHint + "\n");
      return true;
    }
    const extension = extname(file);
    response.writeHead(200, {
      "Content-Type": CONTENT_TYPES[extension] ?? "application/octet-stream",
      "Content-Length": info.size,
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": path.startsWith(HASHED_FOLDER) ? "public, max-age=31536000, immutable" : "no-cache",
      ...(extension === ".html" ? { "Content-Security-Policy": PAGE_POLICY } : {}),
    });
    if (request.method === "HEAD") {
      response.end();
      return true;
    }
    await pipeline(createReadStream(file), response);
    return true;
  }

  /** The file a URL path names inside root, or undefined for one that would leave it. */
  private resolve(path: string): string | undefined {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return undefined;
    }
    if (decoded.includes("\0")) return undefined;
    const file = normalize(join(this.root, decoded));
    return file.startsWith(normalize(this.root + sep)) ? file : undefined;
  }
}
