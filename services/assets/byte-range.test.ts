import { describe, expect, it } from "vitest";
import { parseRange } from "./byte-range.js";

describe("parseRange", () => {
  it("serves the whole object without a Range header", () => {
    expect(parseRange(undefined, 10)).toEqual({ kind: "whole" });
  });

  it("reads first-last, first- and -suffix ranges, clipped to the object", () => {
    expect(parseRange("bytes=0-0", 10)).toEqual({ kind: "partial", start: 0, end: 0 });
    expect(parseRange("bytes=2-5", 10)).toEqual({ kind: "partial", start: 2, end: 5 });
    expect(parseRange("bytes=2-", 10)).toEqual({ kind: "partial", start: 2, end: 9 });
    expect(parseRange("bytes=8-100", 10)).toEqual({ kind: "partial", start: 8, end: 9 });
    expect(parseRange("bytes=-3", 10)).toEqual({ kind: "partial", start: 7, end: 9 });
    expect(parseRange("bytes=-30", 10)).toEqual({ kind: "partial", start: 0, end: 9 });
  });

  it("finds a range that starts at or past the end unsatisfiable, as it does an empty suffix", () => {
    expect(parseRange("bytes=10-", 10)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=10-20", 10)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=-0", 10)).toEqual({ kind: "unsatisfiable" });
  });

  it("ignores what it does not serve: several ranges, other units, malformed or backwards ranges", () => {
    for (const header of ["bytes=0-1,3-4", "items=0-1", "bytes=a-b", "bytes=5-2", "bytes=-", "bytes 0-1", `bytes=${"9".repeat(16)}-`]) {
      expect(parseRange(header, 10)).toEqual({ kind: "whole" });
    }
  });
});
