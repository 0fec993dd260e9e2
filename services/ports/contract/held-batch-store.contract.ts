import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HeldBatchStore } from "../held-batch-store.js";
import type { Message } from "../../protocol/frames.js";
import { groupMessage } from "../../testing/group-message.js";

export interface HeldBatchStoreFixture {
  /** An empty store. */
  store: HeldBatchStore;
  /** Another store on the same data, as a second groups replica sees it (its own connection where there is one). */
  replica: () => HeldBatchStore;
  /** Closes the stores and removes their data. */
  cleanup: () => Promise<void>;
}

const T0 = Date.UTC(2030, 0, 1, 12);
const LIMITS = { delayMs: 5_000, maxMessages: 3 };

const message = (seq: number, groupId?: string): Message =>
  groupMessage(seq, { ...(groupId === undefined ? {} : { groupId }), sentAt: T0, body: { text: `news ${String(seq)} ✓`, replyTo: "m0" } as Message["body"] });

const seqs = (messages: readonly Message[]): number[] => messages.map((m) => m.seq);

/** The semantics every HeldBatchStore adapter must have. Times are given by the caller, so no test waits. */
export function describeHeldBatchStoreContract(name: string, create: () => Promise<HeldBatchStoreFixture>): void {
  describe(`HeldBatchStore contract: ${name}`, () => {
    let fixture: HeldBatchStoreFixture;
    let store: HeldBatchStore;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it("opens a member's batch with its first message, due after the delay counted from that message", async () => {
      expect(await store.hold(["bob"], message(1), T0, LIMITS)).toEqual([{ opened: true, dueAt: T0 + 5_000, full: null }]);
      expect(await store.hold(["bob"], message(2), T0 + 4_000, LIMITS)).toEqual([{ opened: false, dueAt: T0 + 5_000, full: null }]);
    });

    it("keeps a batch until it is due, then hands its messages over once, in order and intact", async () => {
      await store.hold(["bob"], message(1), T0, LIMITS);
      await store.hold(["bob"], message(2), T0 + 1, LIMITS);
      expect(await store.take("bob", T0 + 4_999)).toEqual([]);
      expect(await store.takeDue(T0 + 4_999, 100)).toEqual([]);
      expect(await store.take("bob", T0 + 5_000)).toEqual([message(1), message(2)]);
      expect(await store.take("bob", T0 + 5_000)).toEqual([]);
      expect(await store.takeDue(T0 + 10_000, 100)).toEqual([]);
    });

    it("holds a message once per batch: the same message held again (a fan-out replayed after a replica died) adds nothing", async () => {
      await store.hold(["bob"], message(1), T0, LIMITS);
      expect(await store.hold(["bob"], message(1), T0 + 1_000, LIMITS)).toEqual([{ opened: false, dueAt: T0 + 5_000, full: null }]);
      await store.hold(["bob"], message(2), T0 + 2_000, LIMITS);
      expect(seqs(await store.take("bob", T0 + 5_000))).toEqual([1, 2]);
    });

    it("hands over a batch at once when it reaches its maximum, and opens a new one with the next message", async () => {
      await store.hold(["bob", "ann"], message(1), T0, LIMITS);
      await store.hold(["bob"], message(2), T0 + 1, LIMITS);
      const [bob, ann] = await store.hold(["bob", "ann"], message(3), T0 + 2, LIMITS);
      expect(seqs(bob?.full ?? [])).toEqual([1, 2, 3]);
      expect(ann?.full).toBeNull();
      expect(await store.hold(["bob"], message(4), T0 + 3, LIMITS)).toEqual([{ opened: true, dueAt: T0 + 5_003, full: null }]);
      // The filled batch's due time has passed; only the new batch, not yet due, is held.
      expect(await store.take("bob", T0 + 5_000)).toEqual([]);
      expect((await store.takeDue(T0 + 5_000, 100)).map((b) => [b.userId, seqs(b.messages)])).toEqual([["ann", [1, 3]]]);
      expect(seqs(await store.take("bob", T0 + 5_003))).toEqual([4]);
    });

    it("sweeps the due batches of every member and leaves the ones not yet due", async () => {
      const users = Array.from({ length: 30 }, (_, i) => `user-${i}`);
      await store.hold(users, message(1), T0, LIMITS);
      await store.hold(["late"], message(2), T0 + 1_000, LIMITS);
      const swept = [];
      for (let round = 0; round < 10; round++) swept.push(...(await store.takeDue(T0 + 5_000, 8)));
      expect(swept.map((b) => b.userId).sort()).toEqual([...users].sort());
      expect(swept.every((b) => seqs(b.messages).join() === "1")).toBe(true);
      expect((await store.takeDue(T0 + 6_000, 100)).map((b) => b.userId)).toEqual(["late"]);
    });

    it("releases the batches one replica held from another replica when they are due", async () => {
      await store.hold(["bob", "ann"], message(1), T0, LIMITS);
      const other = fixture.replica();
      await other.hold(["bob"], message(2), T0 + 10, LIMITS);
      const taken = await other.takeDue(T0 + 5_000, 100);
      expect(taken.map((b) => [b.userId, seqs(b.messages)]).sort()).toEqual([
        ["ann", [1]],
        ["bob", [1, 2]],
      ]);
    });

    it("gives each due batch to exactly one of several replicas sweeping together", async () => {
      const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
      await store.hold(users, message(1), T0, LIMITS);
      const replicas = [store, fixture.replica(), fixture.replica()];
      const rounds = await Promise.all(replicas.flatMap((replica) => [replica.takeDue(T0 + 5_000, 100), ...users.slice(0, 5).map(async (u) => [{ userId: u, messages: await replica.take(u, T0 + 5_000) }])]));
      const taken = rounds.flat().filter((b) => b.messages.length > 0);
      expect(taken.map((b) => b.userId).sort()).toEqual([...users].sort());
    });
  });
}
