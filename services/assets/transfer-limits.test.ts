import { describe, expect, it } from "vitest";
import { InFlightLimiter } from "./transfer-limits.js";

describe("InFlightLimiter", () => {
  it("refuses a user past their own cap as 'user', and anyone past the process cap as 'process'", () => {
    const limiter = new InFlightLimiter(3, 2);
    expect(limiter.reserve("alice", 1).ok).toBe(true);
    expect(limiter.reserve("alice", 1).ok).toBe(true);
    expect(limiter.reserve("alice", 1)).toEqual({ ok: false, full: "user" });
    expect(limiter.reserve("bob", 1).ok).toBe(true);
    expect(limiter.reserve("carol", 1)).toEqual({ ok: false, full: "process" });
    expect(limiter.inFlight()).toBe(3);
  });

  it("frees what is released, once however often release is called", () => {
    const limiter = new InFlightLimiter(2, 2);
    const first = limiter.reserve("alice", 2);
    if (!first.ok) throw new Error("refused");
    expect(limiter.reserve("bob", 1)).toEqual({ ok: false, full: "process" });
    first.release();
    first.release();
    expect(limiter.inFlight()).toBe(0);
    expect(limiter.inFlight("alice")).toBe(0);
    expect(limiter.reserve("bob", 2).ok).toBe(true);
    expect(limiter.reserve("alice", 1)).toEqual({ ok: false, full: "process" });
  });

  it("lets an amount larger than a cap through when nothing else is in flight", () => {
    const limiter = new InFlightLimiter(100, 10);
    const big = limiter.reserve("alice", 60);
    expect(big.ok).toBe(true);
    expect(limiter.reserve("alice", 1)).toEqual({ ok: false, full: "user" });
    expect(limiter.reserve("bob", 50)).toEqual({ ok: false, full: "process" });
    expect(limiter.reserve("bob", 40).ok).toBe(true);
  });

  it("frees a reservation's bytes as they are sent, and only the rest on release", () => {
    const limiter = new InFlightLimiter(100, 100);
    const download = limiter.reserve("alice", 60);
    if (!download.ok) throw new Error("refused");
    download.shrink(50);
    expect(limiter.inFlight("alice")).toBe(10);
    expect(limiter.reserve("alice", 90).ok).toBe(true);
    download.shrink(25);
    expect(limiter.inFlight("alice")).toBe(90);
    download.release();
    download.release();
    expect(limiter.inFlight()).toBe(90);
    expect(limiter.inFlight("alice")).toBe(90);
  });
});
