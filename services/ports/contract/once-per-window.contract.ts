import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OncePerWindow } from "../once-per-window.js";
import { testTime, type Advance, type TestTime } from "../../testing/test-time.js";

export interface OncePerWindowFixture {
  /** A store without claims. */
  store: OncePerWindow;
  /** Moves the store's clock forward; undefined on real time (short real windows are used). */
  advance: Advance | undefined;
  /** Closes the store and removes its data. */
  cleanup: () => Promise<void>;
}

/** The semantics every OncePerWindow adapter must have. */
export function describeOncePerWindowContract(name: string, create: () => Promise<OncePerWindowFixture>): void {
  describe(`OncePerWindow contract: ${name}`, () => {
    let fixture: OncePerWindowFixture;
    let store: OncePerWindow;
    let time: TestTime;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
      time = testTime(fixture.advance);
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it("grants the first claim of a key and refuses the next ones until the window lapses", async () => {
      expect(await store.claim("typing:alice:c1", time.ttlMs)).toBe(true);
      expect(await store.claim("typing:alice:c1", time.ttlMs)).toBe(false);
      await time.pass(time.ttlMs / 2);
      // A refused claim does not extend the window.
      expect(await store.claim("typing:alice:c1", time.ttlMs)).toBe(false);
      await time.until(() => store.claim("typing:alice:c1", time.ttlMs), time.ttlMs);
      expect(await store.claim("typing:alice:c1", time.ttlMs)).toBe(false);
    });

    it("keeps keys apart", async () => {
      expect(await store.claim("notify:alice", time.ttlMs)).toBe(true);
      expect(await store.claim("notify:bob", time.ttlMs)).toBe(true);
      expect(await store.claim("typing:alice:c1", time.ttlMs)).toBe(true);
    });

    it("claims many keys in one call: only the free ones are granted, each at most once", async () => {
      expect(await store.claim("notify:bob", time.ttlMs)).toBe(true);
      expect(await store.claimEach(["notify:alice", "notify:bob", "notify:carol", "notify:alice"], time.ttlMs)).toEqual([true, false, true, false]);
      expect(await store.claim("notify:carol", time.ttlMs)).toBe(false);
      expect(await store.claimEach([], time.ttlMs)).toEqual([]);
      await time.until(async () => (await store.claimEach(["notify:alice"], time.ttlMs))[0] === true, time.ttlMs);
    });

    it("grants exactly one of many concurrent claims of a key", async () => {
      const granted = await Promise.all(Array.from({ length: 20 }, () => store.claim("notify:alice", time.ttlMs)));
      expect(granted.filter(Boolean)).toHaveLength(1);
    });
  });
}
