import { describe, expect, it } from "vitest";
import { ManualClock } from "../testing/clock.js";
import { TokenBucket } from "./token-bucket.js";

function takeAll(bucket: TokenBucket, max = 1000): number {
  let taken = 0;
  while (taken < max && bucket.tryTake()) taken++;
  return taken;
}

describe("TokenBucket", () => {
  it("starts full and allows a burst, then refuses", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(10, 5, clock.now);
    expect(takeAll(bucket)).toBe(5);
    expect(bucket.tryTake()).toBe(false);
  });

  it("refills at the sustained rate", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(10, 5, clock.now);
    takeAll(bucket);
    clock.advance(99);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(350);
    expect(takeAll(bucket)).toBe(3);
  });

  it("never holds more than the burst, however long it was idle", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(10, 5, clock.now);
    clock.advance(3_600_000);
    expect(takeAll(bucket)).toBe(5);
  });

  it("allows the sustained rate indefinitely", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(50, 1, clock.now);
    for (let i = 0; i < 500; i++) {
      expect(bucket.tryTake()).toBe(true);
      clock.advance(20);
    }
  });

  it("handles fractional rates", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(0.5, 1, clock.now);
    expect(bucket.tryTake()).toBe(true);
    clock.advance(1999);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake()).toBe(true);
  });

  describe("msUntilNextToken", () => {
    it("is 0 while a token is available", () => {
      const bucket = new TokenBucket(10, 2, new ManualClock().now);
      expect(bucket.msUntilNextToken()).toBe(0);
      bucket.tryTake();
      expect(bucket.msUntilNextToken()).toBe(0);
    });

    it("says how long until the next token, rounded up", () => {
      const clock = new ManualClock();
      const bucket = new TokenBucket(3, 1, clock.now);
      bucket.tryTake();
      expect(bucket.msUntilNextToken()).toBe(334);
      clock.advance(100);
      expect(bucket.msUntilNextToken()).toBe(234);
      clock.advance(234);
      expect(bucket.msUntilNextToken()).toBe(0);
      expect(bucket.tryTake()).toBe(true);
    });

    it("does not take a token", () => {
      const bucket = new TokenBucket(10, 1, new ManualClock().now);
      expect(bucket.msUntilNextToken()).toBe(0);
      expect(bucket.msUntilNextToken()).toBe(0);
      expect(bucket.tryTake()).toBe(true);
    });
  });
});
