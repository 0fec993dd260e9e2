import { describe, expect, it } from "vitest";
import { ErrorCode, ProtocolError } from "./errors.js";
import { MAX_PAGE_SIZE, MAX_TEXT_LENGTH } from "./frames.js";
import { parseClientFrame, type ParseResult } from "./parse.js";

function parse(frame: unknown): ParseResult {
  return parseClientFrame(JSON.stringify(frame));
}

/** The error of a failed parse; fails the test when the parse succeeded. */
function failure(result: ParseResult): { requestId?: string; error: ProtocolError } {
  if (result.ok) throw new Error(`expected a parse error, got ${JSON.stringify(result.frame)}`);
  expect(result.error).toBeInstanceOf(ProtocolError);
  return result;
}

const send = { type: "send", id: "r1", to: "bob", clientMessageId: "c1", body: { text: "hi" } };

describe("parseClientFrame", () => {
  describe("accepts valid frames", () => {
    it.each([
      ["send", send],
      ["receipt", { type: "receipt", id: "r2", conversationId: "dm:alice:bob", kind: "read", upToSeq: 3 }],
      ["receipt (delivered)", { type: "receipt", id: "r2", conversationId: "dm:alice:bob", kind: "delivered", upToSeq: 1 }],
      ["sync", { type: "sync", id: "r3", after: 0 }],
      ["sync with a limit", { type: "sync", id: "r3", after: 17, limit: MAX_PAGE_SIZE }],
      ["history", { type: "history", id: "r4", conversationId: "dm:alice:bob" }],
      ["history before", { type: "history", id: "r4", conversationId: "dm:alice:bob", before: 10, limit: 1 }],
      ["ping", { type: "ping", id: "r5" }],
    ])("%s", (_, frame) => {
      expect(parse(frame)).toEqual({ ok: true, frame });
    });

    it("accepts text of exactly MAX_TEXT_LENGTH characters", () => {
      const frame = { ...send, body: { text: "x".repeat(MAX_TEXT_LENGTH) } };
      expect(parse(frame)).toEqual({ ok: true, frame });
    });
  });

  describe("refuses what is not a JSON object as malformed_frame", () => {
    it.each([
      ["not JSON", "hello"],
      ["truncated JSON", '{"type":"ping","id":"r1"'],
      ["an empty frame", ""],
      ["an array", "[]"],
      ["an array of a frame", JSON.stringify([{ type: "ping", id: "r1" }])],
      ["null", "null"],
      ["a number", "42"],
      ["a string", '"ping"'],
    ])("%s", (_, text) => {
      const result = failure(parseClientFrame(text));
      expect(result.error.code).toBe(ErrorCode.malformedFrame);
      expect(result.requestId).toBeUndefined();
    });
  });

  describe("refuses an unknown type as unsupported_frame", () => {
    it("echoes the request id and lists the known types", () => {
      const result = failure(parse({ type: "teleport", id: "r9" }));
      expect(result.error.code).toBe(ErrorCode.unsupportedFrame);
      expect(result.requestId).toBe("r9");
      expect(result.error.message).toContain('"teleport"');
      expect(result.error.message).toContain("send");
      expect(result.error.message).toContain("ping");
    });

    it.each([
      ["a missing type", { id: "r9" }],
      ["a numeric type", { type: 1, id: "r9" }],
      ["an inherited property name", { type: "toString", id: "r9" }],
    ])("%s", (_, frame) => {
      const result = failure(parse(frame));
      expect(result.error.code).toBe(ErrorCode.unsupportedFrame);
      expect(result.requestId).toBe("r9");
    });

    it("does not echo a request id that is not a short string", () => {
      expect(failure(parse({ type: "teleport", id: 7 })).requestId).toBeUndefined();
      expect(failure(parse({ type: "teleport", id: "x".repeat(65) })).requestId).toBeUndefined();
      expect(failure(parse({ type: "teleport", id: "x".repeat(64) })).requestId).toBe("x".repeat(64));
    });
  });

  describe("refuses a known type with bad fields as invalid_frame, naming the field", () => {
    it.each([
      ["a missing field", { type: "send", id: "r1", clientMessageId: "c1", body: { text: "hi" } }, "to"],
      ["a missing nested field", { ...send, body: {} }, "body"],
      ["an extra field", { ...send, priority: "high" }, "priority"],
      ["an extra nested field", { ...send, body: { text: "hi", bold: true } }, "bold"],
      ["a wrong type", { type: "sync", id: "r1", after: "0" }, "after"],
      ["a negative cursor", { type: "sync", id: "r1", after: -1 }, "after"],
      ["a fractional seq", { type: "receipt", id: "r1", conversationId: "dm:alice:bob", kind: "read", upToSeq: 1.5 }, "upToSeq"],
      ["an unknown receipt kind", { type: "receipt", id: "r1", conversationId: "dm:alice:bob", kind: "seen", upToSeq: 1 }, "kind"],
      ["a malformed conversation id", { type: "history", id: "r1", conversationId: "alice-bob" }, "conversationId"],
      ["a malformed user id", { ...send, to: "bob smith" }, "to"],
      ["empty text", { ...send, body: { text: "" } }, "body.text"],
      ["text over MAX_TEXT_LENGTH", { ...send, body: { text: "x".repeat(MAX_TEXT_LENGTH + 1) } }, "body.text"],
      ["a limit over MAX_PAGE_SIZE", { type: "sync", id: "r1", after: 0, limit: MAX_PAGE_SIZE + 1 }, "limit"],
      ["a zero limit", { type: "history", id: "r1", conversationId: "dm:alice:bob", limit: 0 }, "limit"],
    ])("%s", (_, frame, field) => {
      const result = failure(parse(frame));
      expect(result.error.code).toBe(ErrorCode.invalidFrame);
      expect(result.error.message).toContain(field);
      expect(result.requestId).toBe(frame.id);
    });

    it("refuses a missing request id", () => {
      const result = failure(parse({ type: "ping" }));
      expect(result.error.code).toBe(ErrorCode.invalidFrame);
      expect(result.error.message).toContain("id");
      expect(result.requestId).toBeUndefined();
    });

    it("reports several problems at once", () => {
      const result = failure(parse({ type: "send", id: "r1", body: { text: "hi" } }));
      expect(result.error.message).toContain("to");
      expect(result.error.message).toContain("clientMessageId");
    });
  });

  describe("survives hostile nesting (a frame that once stopped the process)", () => {
    const deep = (depth: number): string => `${"[".repeat(depth)}${"]".repeat(depth)}`;

    it("refuses a deeply nested type as unsupported_frame without echoing it", () => {
      const result = failure(parseClientFrame(`{"type":${deep(6_000)}}`));
      expect(result.error.code).toBe(ErrorCode.unsupportedFrame);
      expect(result.error.message).toContain("of kind array");
    });

    it("refuses a deeply nested field of a known type as invalid_frame", () => {
      const result = failure(parseClientFrame(`{"type":"send","id":"r1","to":"bob","clientMessageId":"c1","body":${deep(6_000)}}`));
      expect(result.error.code).toBe(ErrorCode.invalidFrame);
      expect(result.requestId).toBe("r1");
    });

    it("echoes at most the first 40 characters of an unknown type", () => {
      const result = failure(parse({ type: "x".repeat(10_000), id: "r1" }));
      expect(result.error.message).toContain(`"${"x".repeat(40)}…"`);
      expect(result.error.message.length).toBeLessThan(300);
    });
  });
});
