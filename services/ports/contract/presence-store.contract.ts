import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ExpiredPresence, PresenceStore } from "../presence-store.js";
import { testTime, type Advance, type TestTime } from "../../testing/test-time.js";

export interface PresenceStoreFixture {
  /** An empty store. */
  store: PresenceStore;
  /** Moves the store's clock forward; undefined on real time (short real TTLs are used). */
  advance: Advance | undefined;
  /** Closes the store and removes its data. */
  cleanup: () => Promise<void>;
}

/** Wall-clock times of connects and disconnects, as the gateway reports them. */
const T0 = Date.UTC(2030, 0, 1, 12);
function at(seconds: number): Date {
  return new Date(T0 + seconds * 1000);
}

/** The semantics every PresenceStore adapter must have. */
export function describePresenceStoreContract(name: string, create: () => Promise<PresenceStoreFixture>): void {
  describe(`PresenceStore contract: ${name}`, () => {
    let fixture: PresenceStoreFixture;
    let store: PresenceStore;
    let time: TestTime;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
      time = testTime(fixture.advance);
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    const isOffline = (userId: string) => async (): Promise<boolean> => !(await store.get(userId)).online;

    it("knows nothing of a user never seen", async () => {
      expect(await store.get("nobody")).toEqual({ online: false, lastSeen: null });
    });

    it("shows a user online from markOnline and offline after markOffline, with the last time seen", async () => {
      await store.markOnline("alice", "phone", time.ttlMs, at(0));
      expect(await store.get("alice")).toEqual({ online: true, lastSeen: at(0) });
      await store.markOffline("alice", "phone", at(30));
      expect(await store.get("alice")).toEqual({ online: false, lastSeen: at(30) });
      expect(await store.get("bob")).toEqual({ online: false, lastSeen: null });
    });

    it("keeps a user online until every device went offline", async () => {
      await store.markOnline("alice", "phone", time.ttlMs, at(0));
      await store.markOnline("alice", "laptop", time.ttlMs, at(1));
      await store.markOffline("alice", "phone", at(2));
      expect(await store.get("alice")).toEqual({ online: true, lastSeen: at(2) });
      await store.markOffline("alice", "laptop", at(3));
      expect(await store.get("alice")).toEqual({ online: false, lastSeen: at(3) });
    });

    it("takes a crashed device offline when its mark expires, keeping when it was last seen", async () => {
      await store.markOnline("alice", "phone", time.ttlMs, at(0));
      await time.pass(time.ttlMs / 2);
      expect((await store.get("alice")).online).toBe(true);
      await time.until(isOffline("alice"), time.ttlMs);
      expect(await store.get("alice")).toEqual({ online: false, lastSeen: at(0) });
    });

    it("keeps a device online while it heartbeats", async () => {
      await store.markOnline("alice", "phone", time.ttlMs, at(0));
      await store.markOnline("bob", "phone", time.ttlMs, at(0));
      await time.pass(time.ttlMs / 2);
      await store.markOnline("alice", "phone", time.ttlMs, at(15));
      await time.until(isOffline("bob"), time.ttlMs);
      expect(await store.get("alice")).toEqual({ online: true, lastSeen: at(15) });
    });

    it("keeps a user online through one device's crash while another is connected", async () => {
      await store.markOnline("alice", "phone", time.ttlMs, at(0));
      await store.markOnline("carol", "phone", time.ttlMs, at(0));
      await time.pass(time.ttlMs / 2);
      await store.markOnline("alice", "laptop", time.ttlMs, at(10));
      // Carol's mark was set with Alice's phone's, so the phone has expired once hers has.
      await time.until(isOffline("carol"), time.ttlMs);
      expect(await store.get("alice")).toEqual({ online: true, lastSeen: at(10) });
      await store.markOffline("alice", "laptop", at(20));
      expect(await store.get("alice")).toEqual({ online: false, lastSeen: at(20) });
    });

    it("never moves lastSeen backwards", async () => {
      await store.markOnline("alice", "phone", time.ttlMs, at(100));
      await store.markOffline("alice", "laptop", at(50));
      expect((await store.get("alice")).lastSeen).toEqual(at(100));
      await store.markOnline("alice", "tablet", time.ttlMs, at(20));
      expect(await store.get("alice")).toEqual({ online: true, lastSeen: at(100) });
      await store.markOffline("alice", "phone", at(200));
      expect((await store.get("alice")).lastSeen).toEqual(at(200));
    });

    it("records a disconnect as a sighting even without a connect", async () => {
      await store.markOffline("alice", "phone", at(5));
      expect(await store.get("alice")).toEqual({ online: false, lastSeen: at(5) });
    });

    // ---- changes of online state, for the presence service's pushes ----------------

    /** Calls expire() until `userId` is among the users it returns; resolves with everything returned. */
    const expireUntil = async (userId: string, sweeps = 1): Promise<ExpiredPresence[]> => {
      const reported: ExpiredPresence[] = [];
      await time.until(async () => {
        const batches = await Promise.all(Array.from({ length: sweeps }, () => store.expire()));
        reported.push(...batches.flat());
        return reported.some((e) => e.userId === userId);
      }, time.ttlMs);
      return reported;
    };

    it("reports a change when the first mark is set and when the last one ends, not in between", async () => {
      expect(await store.markOnline("alice", "phone", time.ttlMs, at(0))).toEqual({ changed: true, presence: { online: true, lastSeen: at(0) } });
      expect((await store.markOnline("alice", "laptop", time.ttlMs, at(1))).changed).toBe(false);
      // A heartbeat extends a mark without a change.
      expect((await store.markOnline("alice", "phone", time.ttlMs, at(2))).changed).toBe(false);
      expect(await store.markOffline("alice", "phone", at(3))).toEqual({ changed: false, presence: { online: true, lastSeen: at(3) } });
      expect(await store.markOffline("alice", "laptop", at(4))).toEqual({ changed: true, presence: { online: false, lastSeen: at(4) } });
      expect((await store.markOffline("alice", "laptop", at(5))).changed).toBe(false);
      expect((await store.markOffline("bob", "phone", at(5))).changed).toBe(false);
      expect((await store.markOnline("alice", "phone", time.ttlMs, at(6))).changed).toBe(true);
    });

    it("expires a crashed user once, with the last time seen, and no one who went offline or stays online", async () => {
      await store.markOnline("alice", "phone", time.ttlMs, at(0));
      await store.markOnline("bob", "phone", time.ttlMs, at(0));
      await store.markOffline("bob", "phone", at(1));
      await store.markOnline("carol", "phone", time.ttlMs, at(0));
      expect(await store.expire()).toEqual([]);
      await time.pass(time.ttlMs / 2);
      await store.markOnline("carol", "phone", time.ttlMs, at(10));
      const reported = await expireUntil("alice");
      expect(reported).toEqual([{ userId: "alice", lastSeen: at(0) }]);
      expect(await store.expire()).toEqual([]);
      expect(await store.get("alice")).toEqual({ online: false, lastSeen: at(0) });
      expect(await store.get("carol")).toEqual({ online: true, lastSeen: at(10) });
    });

    it("does not expire a user while another of their devices holds a mark", async () => {
      await store.markOnline("alice", "phone", time.ttlMs, at(0));
      await store.markOnline("carol", "phone", time.ttlMs, at(0));
      await time.pass(time.ttlMs / 2);
      await store.markOnline("alice", "laptop", time.ttlMs, at(10));
      // Carol's mark lapses with Alice's phone's.
      const first = await expireUntil("carol");
      expect(first.map((e) => e.userId)).toEqual(["carol"]);
      expect((await store.get("alice")).online).toBe(true);
      const second = await expireUntil("alice");
      expect(second).toEqual([{ userId: "alice", lastSeen: at(10) }]);
    });

    it("reports each expired user to one of several concurrent sweeps", async () => {
      await store.markOnline("alice", "phone", time.ttlMs, at(0));
      await store.markOnline("alice", "laptop", time.ttlMs, at(0));
      const reported = await expireUntil("alice", 3);
      expect(reported).toEqual([{ userId: "alice", lastSeen: at(0) }]);
    });

    it("reports a disconnect that arrives after the mark lapsed, and then expires no one", async () => {
      await store.markOnline("alice", "phone", time.ttlMs, at(0));
      await time.until(isOffline("alice"), time.ttlMs);
      expect(await store.markOffline("alice", "phone", at(40))).toEqual({ changed: true, presence: { online: false, lastSeen: at(40) } });
      expect(await store.expire()).toEqual([]);
    });

    it("brings a user whose mark lapsed online again on their next heartbeat, and then expires no one", async () => {
      await store.markOnline("alice", "phone", time.ttlMs, at(0));
      await time.until(isOffline("alice"), time.ttlMs);
      expect(await store.markOnline("alice", "phone", time.ttlMs, at(40))).toEqual({ changed: true, presence: { online: true, lastSeen: at(40) } });
      expect(await store.expire()).toEqual([]);
      expect((await store.markOffline("alice", "phone", at(41))).changed).toBe(true);
    });
  });
}
