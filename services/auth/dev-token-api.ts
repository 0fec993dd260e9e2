import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { UserId } from "../protocol/ids.js";
import type { HttpApi } from "../runtime/http-server.js";
import type { TokenAuthority } from "./tokens.js";

export const DEV_TOKEN_PATH = "/v1/dev/token";
/** A user id is at most 64 characters: any honest body is far below this. */
const MAX_BODY_BYTES = 1024;

const DevTokenRequest = z.strictObject({ user: UserId });

/**
 * `POST /v1/dev/token` with `{"user": "<user id>"}`: a token for that user, no questions
 * asked. Only `parley dev` mounts it (the web messenger signs in with a name there);
 * `parley serve` never does, since it would hand anyone every user's identity.
 * The body must be JSON with `Content-Type: application/json`, so that a page of another
 * origin cannot post it without a CORS preflight, which this endpoint does not answer.
 */
export class DevTokenApi implements HttpApi {
  constructor(
    private readonly tokens: Pick<TokenAuthority, "issue">,
    private readonly ttlSeconds: number,
  ) {}

  async handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> {
    if (path !== DEV_TOKEN_PATH) return false;
    if (request.method !== "POST") {
      reply(response, 405, { error: "use POST", code: "method_not_allowed" }, { Allow: "POST" });
      return true;
    }
    // The media type exactly (parameters such as charset may follow `;`): "application/jsonx" is not JSON.
    if ((request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() !== "application/json") {
      reply(response, 415, { error: "send the body as Content-Type: application/json", code: "unsupported_media_type" });
      return true;
    }
    const body = await readBody(request);
    if (body === undefined) {
      reply(response, 413, { error: `the body may be at most ${MAX_BODY_BYTES} bytes`, code: "too_large" }, { Connection: "close" });
      return true;
    }
    const parsed = DevTokenRequest.safeParse(parseJson(body));
    if (!parsed.success) {
      reply(response, 400, { error: 'send {"user": "<name>"}: 1-64 characters of A-Z a-z 0-9 _ . @ -', code: "bad_request" });
      return true;
    }
    const token = await this.tokens.issue(parsed.data.user, this.ttlSeconds);
    const expiresAt = new Date(Date.now() + this.ttlSeconds * 1000).toISOString();
    reply(response, 200, { userId: parsed.data.user, token, expiresAt });
    return true;
  }
}

/** The body as text, or undefined once it passes MAX_BODY_BYTES (the rest is not read). */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function reply(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store", ...headers });
  response.end(JSON.stringify(body));
}
