import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { parseDuration } from "./durations.js";

describe("parseDuration", () => {
  it.each([
    ["90s", 90],
    ["15m", 900],
    ["12h", 43_200],
    ["7d", 604_800],
    ["1s", 1],
    ["999999d", 999_999 * 86_400],
  ])("reads %s as %i seconds", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(["", "10", "s", "1w", "-1s", "1.5h", "1 h", " 1h", "1h ", "1H", "1000000s", "1h30m", "0x10s"])("refuses %j", (text) => {
    expect(() => parseDuration(text)).toThrow(InvalidArgumentError);
  });

  it("says what it expected and what it got", () => {
    expect(() => parseDuration("soon")).toThrow(/30s, 15m, 12h or 7d, got "soon"/);
  });
});
