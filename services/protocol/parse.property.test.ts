import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, ProtocolError } from "./errors.js";
import { parseClientFrame } from "./parse.js";
import { hostileFrameText, hostileString, PARSER_SEED, regressionCorpus, validClientFrame } from "./testing/hostile-frames.js";

/** Long enough to name a field and the known types, short enough never to carry a client's payload back. */
const MAX_ERROR_MESSAGE_LENGTH = 1_000;
const REFUSAL_CODES: string[] = [ErrorCode.malformedFrame, ErrorCode.unsupportedFrame, ErrorCode.invalidFrame];

/**
 * A fixed seed, so a failure (fast-check prints its seed and path) replays exactly; the run
 * count bounds the time (about a second for all three properties).
 */
function check<T extends [unknown, ...unknown[]]>(property: fc.IProperty<T>, numRuns: number): void {
  fc.assert(property, { seed: PARSER_SEED, numRuns });
}

/** The parser's contract for text it refuses: a typed, bounded refusal, never a throw. */
function expectBoundedRefusalOrFrame(text: string): void {
  const result = parseClientFrame(text);
  if (result.ok) return;
  expect(result.error).toBeInstanceOf(ProtocolError);
  expect(REFUSAL_CODES).toContain(result.error.code);
  expect(result.error.message.length).toBeLessThan(MAX_ERROR_MESSAGE_LENGTH);
  if (result.requestId !== undefined) expect(result.requestId.length).toBeLessThanOrEqual(64);
}

describe("parseClientFrame under hostile input", () => {
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

  beforeAll(() => {
    console.info(`parser properties: fast-check seed ${String(PARSER_SEED)}`);
  });

  afterAll(() => {
    // `__proto__`, `constructor` and `prototype` keys went through every property above.
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("never throws on any string, and refuses with a typed error of bounded length", () => {
    check(fc.property(hostileString, (text) => {
      expectBoundedRefusalOrFrame(text);
    }), 1_000);
  });

  it("never throws on hostile JSON (10,000-deep nesting, huge numbers, prototype keys, lone surrogates)", () => {
    check(fc.property(hostileFrameText, (text) => {
      expectBoundedRefusalOrFrame(text);
    }), 1_000);
  });

  it.each(regressionCorpus(64 * 1024).flatMap((entry) => (entry.input.kind === "text" ? [[entry.name, entry.input.text]] : [])))(
    "refuses %s from the regression corpus without throwing, in bounded words",
    (_, text) => {
      expectBoundedRefusalOrFrame(text);
    },
  );

  it("gives back every valid frame unchanged after a round trip through text", () => {
    check(fc.property(validClientFrame, (frame) => {
      expect(parseClientFrame(JSON.stringify(frame))).toEqual({ ok: true, frame });
    }), 500);
  });
});
