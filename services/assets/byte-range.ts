import type { ByteRange } from "../ports/blob-store.js";

/** What a download serves for a Range header (RFC 9110 §14). */
export type RangeAnswer =
  /** No usable Range: the whole object, 200. */
  | { kind: "whole" }
  /** One satisfiable range, clipped to the object: 206. */
  | ({ kind: "partial" } & ByteRange)
  /** A well-formed range that starts past the end: 416. */
  | { kind: "unsatisfiable" };

const SINGLE_RANGE = /^bytes=([0-9]{0,15})-([0-9]{0,15})$/;

/**
 * Reads a Range header against an object of `size` bytes. Only one range is served: a
 * header with several, or one that does not parse, is ignored and the whole object sent,
 * as RFC 9110 allows (a server may ignore Range); so are units other than bytes.
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: "whole" };
  const match = SINGLE_RANGE.exec(header.trim());
  if (match === null) return { kind: "whole" };
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return { kind: "whole" };
  if (first === "") {
    // bytes=-N: the last N bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  // A last byte before the first makes the range invalid, to be ignored.
  if (last !== "" && Number(last) < start) return { kind: "whole" };
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "partial", start, end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
}
