import { beforeEach, describe, expect, it } from "vitest";
import { SETTINGS } from "../runtime/config.js";
import { ManualClock } from "../testing/clock.js";
import { ACTIVITY_WEIGHTS, ActivityScores } from "./activity-scores.js";

const HALF_LIFE_MS = 60_000;

let clock: ManualClock;
let scores: ActivityScores;

beforeEach(() => {
  clock = new ManualClock();
  scores = new ActivityScores(HALF_LIFE_MS, clock.now);
});

describe("ActivityScores", () => {
  it("scores a user with no recorded activity as zero", () => {
    expect(scores.score("nobody")).toBe(0);
  });

  it("adds each kind of activity's weight", () => {
    scores.record("alice", "connect");
    scores.record("alice", "send");
    scores.record("alice", "read");
    expect(scores.score("alice")).toBeCloseTo(ACTIVITY_WEIGHTS.connect + ACTIVITY_WEIGHTS.send + ACTIVITY_WEIGHTS.read);
  });

  it("adds an event that stands for several activities as that many", () => {
    scores.record("alice", "send", undefined, 4);
    for (let i = 0; i < 4; i++) scores.record("bob", "send");
    expect(scores.score("alice")).toBeCloseTo(scores.score("bob"));
    expect(scores.score("alice")).toBeCloseTo(4 * ACTIVITY_WEIGHTS.send);
  });

  it("says a score is at least a threshold exactly while its decayed score is", () => {
    const threshold = 1;
    expect(scores.isAtLeast("nobody", threshold)).toBe(false);
    scores.record("alice", "send"); // 3: at least 1 for log2(3) half-lives
    const agree = (): void => {
      expect(scores.isAtLeast("alice", threshold)).toBe(scores.score("alice") >= threshold);
    };
    agree();
    expect(scores.isAtLeast("alice", threshold)).toBe(true);
    clock.advance(HALF_LIFE_MS * 1.5); // 3 / 2^1.5 = 1.06
    agree();
    expect(scores.isAtLeast("alice", threshold)).toBe(true);
    clock.advance(HALF_LIFE_MS * 0.1); // 3 / 2^1.6 = 0.99
    agree();
    expect(scores.isAtLeast("alice", threshold)).toBe(false);
    // New activity moves the moment it falls below.
    scores.record("alice", "read");
    agree();
    expect(scores.isAtLeast("alice", threshold)).toBe(true);
    // Another threshold is worked out on its own.
    expect(scores.isAtLeast("alice", 10)).toBe(false);
    expect(scores.isAtLeast("alice", 1.5)).toBe(scores.score("alice") >= 1.5);
  });

  it("halves a score every half-life without new activity", () => {
    scores.record("alice", "send");
    clock.advance(HALF_LIFE_MS);
    expect(scores.score("alice")).toBeCloseTo(1.5);
    clock.advance(HALF_LIFE_MS);
    expect(scores.score("alice")).toBeCloseTo(0.75);
    clock.advance(HALF_LIFE_MS / 2);
    expect(scores.score("alice")).toBeCloseTo(0.75 * Math.SQRT1_2);
  });

  it("adds new activity to the decayed score, not the original one", () => {
    scores.record("alice", "connect");
    clock.advance(HALF_LIFE_MS);
    scores.record("alice", "send");
    expect(scores.score("alice")).toBeCloseTo(1 + 3);
  });

  it("ranks users by recent activity: a little just now beats more long ago", () => {
    scores.record("long-ago", "send");
    clock.advance(HALF_LIFE_MS);
    scores.record("a-while-ago", "send");
    clock.advance(HALF_LIFE_MS);
    scores.record("just-now", "read");
    const ranked = ["long-ago", "just-now", "a-while-ago"].sort((a, b) => scores.score(b) - scores.score(a));
    expect(ranked).toEqual(["a-while-ago", "just-now", "long-ago"]);
  });

  it("keeps users apart", () => {
    scores.record("alice", "send");
    expect(scores.score("bob")).toBe(0);
  });

  it("dates an event by the time it carries, not by when it is recorded", () => {
    const sentAt = clock.now();
    clock.advance(HALF_LIFE_MS);
    scores.record("alice", "send", sentAt);
    expect(scores.score("alice")).toBeCloseTo(1.5);
  });

  it("does not age a score when an event stamped a little earlier arrives after a later one", () => {
    // Two gateways' clocks differ: the connect from one lands after the send from the other.
    const sentAt = clock.now();
    scores.record("alice", "send", sentAt);
    scores.record("alice", "connect", sentAt - HALF_LIFE_MS);
    expect(scores.score("alice")).toBeCloseTo(3 + 1);
    clock.advance(HALF_LIFE_MS);
    expect(scores.score("alice")).toBeCloseTo((3 + 1) / 2);
  });

  it("forgets users whose score has decayed to nearly nothing and keeps the others", () => {
    scores.record("gone", "read");
    clock.advance(7 * HALF_LIFE_MS); // 1 / 128, just under the default cut-off of 0.01
    scores.record("here", "read");
    const fading = scores.score("gone");
    expect(fading).toBeGreaterThan(0);
    scores.prune();
    expect(scores.score("gone")).toBe(0);
    expect(scores.score("here")).toBeCloseTo(1);
    // A forgotten user who comes back starts from nothing, not from what was forgotten.
    scores.record("gone", "read");
    expect(scores.score("gone")).toBe(1);
  });
});

describe("ActivityScores with the default settings", () => {
  const threshold = SETTINGS.activeScoreThreshold.default;
  const halfLifeMs = SETTINGS.activityHalfLifeMs.default;
  const heartbeatMs = 30_000;

  beforeEach(() => {
    scores = new ActivityScores(halfLifeMs, clock.now);
  });

  /** Lets `ms` pass with each of `devices` heartbeating every 30 s. */
  function heartbeatFor(ms: number, devices: number): void {
    for (let elapsed = 0; elapsed < ms; elapsed += heartbeatMs) {
      clock.advance(heartbeatMs);
      for (let d = 0; d < devices; d++) scores.record("alice", "heartbeat");
    }
  }

  it("makes a user who opens the app active", () => {
    scores.record("alice", "connect");
    expect(scores.score("alice")).toBeGreaterThanOrEqual(threshold);
  });

  it("lets an open but untouched app drift to idle within ten minutes", () => {
    scores.record("alice", "connect");
    heartbeatFor(10 * 60_000, 1);
    expect(scores.score("alice")).toBeLessThan(threshold);
  });

  it("does not keep even three heartbeating devices active without other activity", () => {
    for (let d = 0; d < 3; d++) scores.record("alice", "connect");
    heartbeatFor(2 * 60 * 60_000, 3);
    expect(scores.score("alice")).toBeLessThan(threshold);
    expect(scores.score("alice")).toBeGreaterThan(0.8); // settles near 0.9, as the weights say
  });
});
