import fc from "fast-check";
import { CLIENT_FRAME_TYPES, MAX_PAGE_SIZE, MAX_TEXT_LENGTH, type ClientFrame } from "../frames.js";

/**
 * Hostile input for frame handling, shared by the parser's property tests and the live
 * gateway's: arbitraries that generate it, and a corpus of the inputs that once hurt.
 *
 * Values are generated as JSON *text*, never as objects passed to JSON.stringify: a value
 * nested 10,000 deep cannot be stringified (that RangeError is the outage this guards
 * against), and text also lets us send what no object serialises to (duplicate keys,
 * numbers beyond a double, lone surrogate escapes).
 */

/** Fixed seeds: a failing run prints its seed and path, and the same seed replays it. */
export const PARSER_SEED = 0x5eed_f4a3;
export const GATEWAY_SEED = 0x5eed_0a7e;

const PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype"] as const;

function deepArrays(depth: number): string {
  return `${"[".repeat(depth)}${"]".repeat(depth)}`;
}

function deepObjects(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

/** Arrays and objects alternating, so a parser special-casing one kind still meets the other. */
function deepMixed(depth: number): string {
  let open = "";
  let close = "";
  for (let i = 0; i < depth; i++) {
    if (i % 2 === 0) {
      open += "[";
      close = `]${close}`;
    } else {
      open += '{"__proto__":';
      close = `}${close}`;
    }
  }
  return `${open}0${close}`;
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));

/** Strings of every kind of code unit, lone surrogates included. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.array(fc.oneof(fc.string({ unit: "binary", maxLength: 3 }), loneSurrogate)).map((parts) => parts.join("")),
  fc.constantFrom(...PROTOTYPE_KEYS),
  fc.integer({ min: 1_000, max: 20_000 }).map((length) => "x".repeat(length)),
);

const deepValue = fc
  .tuple(fc.integer({ min: 1, max: 10_000 }), fc.constantFrom(deepArrays, deepObjects, deepMixed))
  .map(([depth, build]) => build(depth));

const hugeNumber = fc.constantFrom("1e400", "-1e400", "9".repeat(400), "-0", "0.0000000000000000000000000001", "1E+308", "123456789012345678901234567890");

/** JSON text of one value: plain JSON, deep nesting up to 10,000 levels, huge numbers, odd strings. */
const hostileJsonValue: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  deepValue,
  hugeNumber,
  hostileString.map((text) => JSON.stringify(text)),
  // \uD800 escapes parse to lone surrogates, which JSON.stringify never emits.
  loneSurrogate.map((unit) => `"\\u${unit.charCodeAt(0).toString(16)}x"`),
  fc.constantFrom(...PROTOTYPE_KEYS).map((key) => `{${JSON.stringify(key)}:{"polluted":true}}`),
);

const FIELD_NAMES = ["type", "id", "to", "body", "text", "after", "before", "limit", "conversationId", "groupId", "members", "users", "kind", "upToSeq", "clientMessageId", "role", "userId", "name"];

const fieldName = fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.constantFrom(...PROTOTYPE_KEYS), hostileString);

const typeValue = fc.oneof(fc.constantFrom(...CLIENT_FRAME_TYPES).map((type) => JSON.stringify(type)), hostileJsonValue);

/** An object whose `type` is known or hostile and whose fields (duplicates allowed) are hostile. */
const hostileFrameObject: fc.Arbitrary<string> = fc
  .tuple(typeValue, fc.array(fc.tuple(fieldName, hostileJsonValue), { maxLength: 6 }), fc.boolean())
  .map(([type, fields, typeFirst]) => {
    const members = fields.map(([key, value]) => `${JSON.stringify(key)}:${value}`);
    const typed = `"type":${type}`;
    return `{${(typeFirst ? [typed, ...members] : [...members, typed]).join(",")}}`;
  });

/** Any text a client might send as one frame. */
export const hostileFrameText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: hostileFrameObject, weight: 4 },
  { arbitrary: hostileJsonValue, weight: 2 },
  { arbitrary: hostileString, weight: 1 },
  { arbitrary: hostileFrameObject.map((text) => text.slice(0, Math.floor(text.length / 2))), weight: 1 },
);

const requestId = fc.string({ minLength: 1, maxLength: 64 });
const userId = fc.stringMatching(/^[A-Za-z0-9_.@-]{1,64}$/);
const groupId = fc.stringMatching(/^g[0-9A-HJKMNP-TV-Z]{26}$/);
const conversationId = fc.oneof(
  fc.tuple(userId, userId).map(([a, b]) => `dm:${a.replaceAll(":", "")}:${b.replaceAll(":", "")}`),
  groupId.map((id) => `grp:${id}`),
);
const seq = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const cursor = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const pageSize = fc.integer({ min: 1, max: MAX_PAGE_SIZE });

/** Valid frames of most kinds; their round trip through text must give them back unchanged. */
export const validClientFrame: fc.Arbitrary<ClientFrame> = fc.oneof(
  fc.record({ type: fc.constant("ping" as const), id: requestId }),
  fc.record({ type: fc.constant("sync" as const), id: requestId, after: cursor, limit: pageSize }, { requiredKeys: ["type", "id", "after"] }),
  fc.record({ type: fc.constant("history" as const), id: requestId, conversationId, before: seq, limit: pageSize }, { requiredKeys: ["type", "id", "conversationId"] }),
  fc.record({ type: fc.constant("receipt" as const), id: requestId, conversationId, kind: fc.constantFrom("delivered" as const, "read" as const), upToSeq: seq }),
  fc.record({
    type: fc.constant("send" as const),
    id: requestId,
    to: userId,
    clientMessageId: requestId,
    body: fc.record({ text: fc.string({ unit: "binary", minLength: 1, maxLength: MAX_TEXT_LENGTH }) }),
  }),
  fc.record({ type: fc.constant("group.info" as const), id: requestId, groupId }),
  fc.record({ type: fc.constant("presence.subscribe" as const), id: requestId, users: fc.array(userId, { minLength: 1, maxLength: 100 }) }),
  fc.record({ type: fc.constant("settings.set" as const), id: requestId, lastSeenVisibility: fc.constantFrom("everyone" as const, "contacts" as const, "nobody" as const) }),
);

// ---- on the wire ------------------------------------------------------------

/** One WebSocket message as a client may put it on the wire. */
export type WireInput =
  | { kind: "text"; text: string }
  /** Raw bytes in a frame of the given kind; a text frame of invalid UTF-8 is the point. */
  | { kind: "bytes"; bytes: Uint8Array; binary: boolean }
  /** One message split over several frames; the first fragment's kind is the message's. */
  | { kind: "fragments"; parts: Uint8Array[]; binary: boolean };

/**
 * How the gateway must answer a wire input: on a connection it keeps (with a first reply of
 * this shape, or any), or by closing it with this code.
 */
export type Outcome = { reply: Record<string, unknown> | "any" } | { close: number };

const encoder = new TextEncoder();

/** Byte sequences that are not UTF-8: lone continuation bytes, overlongs, encoded surrogates, > U+10FFFF, truncations. */
const invalidUtf8 = fc.oneof(
  fc.constantFrom([0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff], [0xe2, 0x82]),
  fc.tuple(fc.string(), fc.constantFrom([0xc3], [0xfe, 0xfe], [0xed, 0xbf, 0xbf])).map(([prefix, bad]) => [...encoder.encode(prefix), ...bad]),
).map((bytes) => Uint8Array.from(bytes));

/** Splits bytes at the given cut points (odd ones included: empty parts, a cut inside a character). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    parts.push(bytes.subarray(start, point));
    start = point;
  }
  parts.push(bytes.subarray(start));
  return parts;
}

/** Wire inputs of every kind whose total size stays under `maxFrameBytes` unless `oversize`. */
export function wireInput(maxFrameBytes: number): fc.Arbitrary<WireInput> {
  const fits = (text: string): boolean => encoder.encode(text).length <= maxFrameBytes;
  const text = hostileFrameText.filter(fits);
  return fc.oneof(
    { arbitrary: text.map((t): WireInput => ({ kind: "text", text: t })), weight: 6 },
    { arbitrary: invalidUtf8.map((bytes): WireInput => ({ kind: "bytes", bytes, binary: false })), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 256 }).map((bytes): WireInput => ({ kind: "bytes", bytes, binary: true })), weight: 1 },
    {
      arbitrary: fc
        .tuple(text, fc.array(fc.nat(), { maxLength: 20 }), fc.boolean())
        .map(([t, cuts, binary]): WireInput => ({ kind: "fragments", parts: split(encoder.encode(t), cuts), binary })),
      weight: 2,
    },
    {
      arbitrary: fc.integer({ min: 1, max: 4 * maxFrameBytes }).map((extra): WireInput => ({ kind: "text", text: `{"type":"ping","id":"${"x".repeat(maxFrameBytes + extra)}"}` })),
      weight: 1,
    },
  );
}

/** The gateway's limit on frames per message (ws `maxFragments`); past it ws closes with 1008. */
const MAX_FRAGMENTS = 64;

/** What the gateway must do with `input` under `maxFrameBytes`. */
export function expectedOutcome(input: WireInput, maxFrameBytes: number): Outcome {
  const bytes = input.kind === "text" ? encoder.encode(input.text) : input.kind === "bytes" ? input.bytes : concat(input.parts);
  if (bytes.length > maxFrameBytes) return { close: 1009 };
  if (input.kind === "fragments" && input.parts.length > MAX_FRAGMENTS) return { close: 1008 };
  const binary = input.kind === "text" ? false : input.binary;
  if (!binary && !isUtf8(bytes)) return { close: 1007 };
  return { reply: "any" };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A frame of exactly `bytes` bytes (an invalid one: `pad` is no field of ping). */
function padTo(bytes: number): string {
  const prefix = '{"type":"ping","id":"r7","pad":"';
  const suffix = '"}';
  return `${prefix}${"x".repeat(bytes - prefix.length - suffix.length)}${suffix}`;
}

// ---- regression corpus --------------------------------------------------------

interface CorpusEntry {
  name: string;
  input: WireInput;
  expected: Outcome;
}

const refused = (code: string, id?: string): Outcome => ({ reply: { type: "error", code, ...(id === undefined ? {} : { id }) } });

/** The inputs the adversarial run found, and their neighbours; sent as they are, every run. */
export function regressionCorpus(maxFrameBytes: number): CorpusEntry[] {
  const sendWith = (body: string): string => `{"type":"send","id":"r1","to":"bob","clientMessageId":"c1","body":${body}}`;
  return [
    { name: "an unknown type of 6,000 nested arrays (stopped the process once)", input: { kind: "text", text: `{"type":${deepArrays(6_000)}}` }, expected: refused("unsupported_frame") },
    { name: "a 12 KB body of nested arrays", input: { kind: "text", text: sendWith(deepArrays(6_000)) }, expected: refused("invalid_frame", "r1") },
    { name: "a 10,000-deep type of nested objects", input: { kind: "text", text: `{"type":${deepObjects(10_000)},"id":"r2"}` }, expected: refused("unsupported_frame", "r2") },
    { name: "an unknown type of 10,000 characters", input: { kind: "text", text: `{"type":"${"x".repeat(10_000)}","id":"r3"}` }, expected: refused("unsupported_frame", "r3") },
    ...PROTOTYPE_KEYS.map(
      (key): CorpusEntry => ({
        name: `a ${key} key, at the top and in the body`,
        input: { kind: "text", text: `{${JSON.stringify(key)}:{"polluted":true},"type":"send","id":"r4","to":"bob","clientMessageId":"c1","body":{${JSON.stringify(key)}:{"polluted":true},"text":"hi"}}` },
        expected: refused("invalid_frame", "r4"),
      }),
    ),
    { name: "a prototype key as the type", input: { kind: "text", text: `{"type":"__proto__","id":"r5"}` }, expected: refused("unsupported_frame", "r5") },
    { name: "a field name of 10,000 characters", input: { kind: "text", text: `{"type":"ping","id":"r6","${"k".repeat(10_000)}":1}` }, expected: refused("invalid_frame", "r6") },
    { name: "invalid UTF-8 in a text frame", input: { kind: "bytes", bytes: Uint8Array.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), binary: false }, expected: { close: 1007 } },
    { name: "a frame one byte over maxFrameBytes", input: { kind: "text", text: "x".repeat(maxFrameBytes + 1) }, expected: { close: 1009 } },
    { name: "a frame of exactly maxFrameBytes", input: { kind: "text", text: padTo(maxFrameBytes) }, expected: refused("invalid_frame", "r7") },
    {
      name: `a message of ${MAX_FRAGMENTS + 1} empty fragments`,
      input: { kind: "fragments", parts: Array.from({ length: MAX_FRAGMENTS + 1 }, () => new Uint8Array(0)), binary: false },
      expected: { close: 1008 },
    },
    {
      name: "a character split across fragments",
      input: { kind: "fragments", parts: split(encoder.encode('{"type":"ping","id":"€"}'), [21, 22]), binary: false },
      expected: { reply: { type: "pong", id: "€" } },
    },
  ];
}
