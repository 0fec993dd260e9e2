import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ActivityScoreStore } from "../activity-score-store.js";

export interface ActivityScoreStoreFixture {
  /** An empty store. */
  store: ActivityScoreStore;
  /** Closes the store and removes its data. */
  cleanup: () => Promise<void>;
}

const HALF_LIFE = 60_000;
const T0 = Date.UTC(2030, 0, 1);

/** The semantics every ActivityScoreStore adapter must have. Times are given, so no clock is needed. */
export function describeActivityScoreStoreContract(name: string, create: () => Promise<ActivityScoreStoreFixture>): void {
  describe(`ActivityScoreStore contract: ${name}`, () => {
    let fixture: ActivityScoreStoreFixture;
    let store: ActivityScoreStore;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it("scores 0 for a user never recorded, and adds up what was recorded, in the order asked", async () => {
      await store.record("alice", 2, T0, HALF_LIFE);
      await store.record("alice", 3, T0, HALF_LIFE);
      await store.record("bob", 1, T0, HALF_LIFE);
      const [nobody, alice, bob] = await store.scores(["nobody", "alice", "bob"], T0, HALF_LIFE);
      expect([nobody, alice, bob]).toEqual([0, expect.closeTo(5, 9), expect.closeTo(1, 9)]);
    });

    it("halves a score every half-life without activity", async () => {
      await store.record("alice", 4, T0, HALF_LIFE);
      expect(await store.scores(["alice"], T0 + HALF_LIFE, HALF_LIFE)).toEqual([expect.closeTo(2, 9)]);
      expect(await store.scores(["alice"], T0 + 2 * HALF_LIFE, HALF_LIFE)).toEqual([expect.closeTo(1, 9)]);
      await store.record("alice", 1, T0 + 2 * HALF_LIFE, HALF_LIFE);
      expect(await store.scores(["alice"], T0 + 2 * HALF_LIFE, HALF_LIFE)).toEqual([expect.closeTo(2, 9)]);
    });

    it("decays a late event to the score's time instead of ageing the score", async () => {
      await store.record("alice", 2, T0 + HALF_LIFE, HALF_LIFE);
      await store.record("alice", 2, T0, HALF_LIFE);
      expect(await store.scores(["alice"], T0 + HALF_LIFE, HALF_LIFE)).toEqual([expect.closeTo(3, 9)]);
    });

    it("adds up events recorded at once, as from several replicas", async () => {
      await Promise.all(Array.from({ length: 20 }, () => store.record("alice", 1, T0, HALF_LIFE)));
      expect(await store.scores(["alice"], T0, HALF_LIFE)).toEqual([expect.closeTo(20, 9)]);
    });
  });
}
