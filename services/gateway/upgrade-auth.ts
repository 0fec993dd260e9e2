import type { IncomingMessage } from "node:http";
import { BEARER_SUBPROTOCOL_PREFIX, PROTOCOL_SUBPROTOCOL } from "../protocol/frames.js";

export type UpgradeCredentials =
  | { ok: true; token: string; deviceId: string | null }
  | { ok: false; status: 400 | 401; reason: string };

/**
 * Reads the bearer token and device id from an upgrade request. The token comes from the
 * `Authorization: Bearer` header or from a `parley.bearer.<token>` subprotocol; never
 * from the URL, which proxies and access logs record.
 */
export function readUpgradeCredentials(request: IncomingMessage): UpgradeCredentials {
  const deviceId = queryParameter(request.url ?? "/", "device");
  const offered = offeredSubprotocols(request);
  if (offered.length > 0 && !offered.includes(PROTOCOL_SUBPROTOCOL)) {
    return { ok: false, status: 400, reason: `unsupported protocol: offer the ${PROTOCOL_SUBPROTOCOL} subprotocol` };
  }
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/i.exec(header);
    if (!match?.[1]) return { ok: false, status: 401, reason: "Authorization header must be 'Bearer <token>'" };
    return { ok: true, token: match[1], deviceId };
  }
  const fromSubprotocol = offered.find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  if (fromSubprotocol) return { ok: true, token: fromSubprotocol.slice(BEARER_SUBPROTOCOL_PREFIX.length), deviceId };
  return { ok: false, status: 401, reason: "missing token: send Authorization: Bearer <token> or a parley.bearer.<token> subprotocol" };
}

/**
 * One query parameter of a request target, decoded as URLSearchParams does. Only the query
 * is parsed: a whole URL per upgrade was a measurable part of a connect's CPU.
 */
function queryParameter(target: string, name: string): string | null {
  const start = target.indexOf("?");
  if (start === -1) return null;
  const end = target.indexOf("#", start);
  return new URLSearchParams(end === -1 ? target.slice(start + 1) : target.slice(start + 1, end)).get(name);
}

export function offeredSubprotocols(request: IncomingMessage): string[] {
  const header = request.headers["sec-websocket-protocol"];
  if (header === undefined) return [];
  return header
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}
