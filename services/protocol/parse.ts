import type { z } from "zod";
import { ErrorCode, ProtocolError } from "./errors.js";
import { CLIENT_FRAME_TYPES, ClientFrame } from "./frames.js";

export type ParseResult = { ok: true; frame: ClientFrame } | { ok: false; requestId?: string; error: ProtocolError };

/** Turns one text frame into a validated client frame, or a typed error naming what is wrong. */
export function parseClientFrame(text: string): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: new ProtocolError(ErrorCode.malformedFrame, "frame is not valid JSON") };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, error: new ProtocolError(ErrorCode.malformedFrame, "frame must be a JSON object") };
  }
  const record = json as Record<string, unknown>;
  const requestId = typeof record.id === "string" && record.id.length <= 64 ? record.id : undefined;
  const withId = requestId === undefined ? {} : { requestId };
  if (typeof record.type !== "string" || !(CLIENT_FRAME_TYPES as string[]).includes(record.type)) {
    return {
      ok: false,
      ...withId,
      error: new ProtocolError(
        ErrorCode.unsupportedFrame,
        `unknown frame type ${describeType(record.type)}; expected one of ${CLIENT_FRAME_TYPES.join(", ")}`,
      ),
    };
  }
  const parsed = ClientFrame.safeParse(json);
  if (!parsed.success) {
    return { ok: false, ...withId, error: new ProtocolError(ErrorCode.invalidFrame, describeIssues(parsed.error)) };
  }
  return { ok: true, frame: parsed.data };
}

const MAX_ECHOED_TYPE_LENGTH = 40;

/**
 * Names the unknown `type` a client sent without serialising it: the value is the
 * client's, and a deeply nested one makes JSON.stringify throw (a RangeError that once
 * escaped the socket handler and stopped the process). Only a short string is echoed.
 */
function describeType(value: unknown): string {
  if (typeof value !== "string") return value === null ? "null" : Array.isArray(value) ? "of kind array" : `of kind ${typeof value}`;
  return JSON.stringify(truncate(value, MAX_ECHOED_TYPE_LENGTH));
}

const MAX_ISSUES = 5;
const MAX_ISSUE_LENGTH = 160;

/**
 * At most five issues of at most 160 characters each: zod quotes the client's own key
 * names ("Unrecognized key: ..."), and a 10,000-character key must not come back whole.
 */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, MAX_ISSUES)
    .map((issue) => truncate(`${issue.path.length > 0 ? issue.path.join(".") : "frame"}: ${issue.message}`, MAX_ISSUE_LENGTH))
    .join("; ");
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length)}…` : text;
}
