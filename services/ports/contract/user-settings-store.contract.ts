import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { UserSettingsStore } from "../user-settings-store.js";

export interface UserSettingsStoreFixture {
  /** An empty store. */
  store: UserSettingsStore;
  /** Opens the same data again, as after a restart; the fixture closes what it opened. */
  reopen: () => Promise<UserSettingsStore>;
  /** Closes every store opened and removes their data. */
  cleanup: () => Promise<void>;
}

/** The semantics every UserSettingsStore adapter must have. */
export function describeUserSettingsStoreContract(name: string, create: () => Promise<UserSettingsStoreFixture>): void {
  describe(`UserSettingsStore contract: ${name}`, () => {
    let fixture: UserSettingsStoreFixture;
    let store: UserSettingsStore;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it("gives a user who never chose the defaults: last seen visible to contacts", async () => {
      expect(await store.get("alice")).toEqual({ lastSeenVisibility: "contacts" });
    });

    it("keeps a change for that user alone, and reports the settings before and after", async () => {
      expect(await store.update("alice", { lastSeenVisibility: "nobody" })).toEqual({
        before: { lastSeenVisibility: "contacts" },
        after: { lastSeenVisibility: "nobody" },
      });
      expect(await store.get("alice")).toEqual({ lastSeenVisibility: "nobody" });
      expect(await store.get("bob")).toEqual({ lastSeenVisibility: "contacts" });
      expect(await store.update("alice", { lastSeenVisibility: "everyone" })).toEqual({
        before: { lastSeenVisibility: "nobody" },
        after: { lastSeenVisibility: "everyone" },
      });
      expect(await store.get("alice")).toEqual({ lastSeenVisibility: "everyone" });
    });

    it("leaves the fields a change does not name as they were", async () => {
      await store.update("alice", { lastSeenVisibility: "everyone" });
      expect(await store.update("alice", {})).toEqual({ before: { lastSeenVisibility: "everyone" }, after: { lastSeenVisibility: "everyone" } });
      expect(await store.update("bob", {})).toEqual({ before: { lastSeenVisibility: "contacts" }, after: { lastSeenVisibility: "contacts" } });
      expect(await store.get("alice")).toEqual({ lastSeenVisibility: "everyone" });
    });

    it("reads several users at once, once each, with defaults for those who never chose", async () => {
      await store.update("alice", { lastSeenVisibility: "nobody" });
      await store.update("carol", { lastSeenVisibility: "everyone" });
      const many = await store.getMany(["alice", "bob", "carol", "alice"]);
      expect(Object.fromEntries(many)).toEqual({
        alice: { lastSeenVisibility: "nobody" },
        bob: { lastSeenVisibility: "contacts" },
        carol: { lastSeenVisibility: "everyone" },
      });
      expect((await store.getMany([])).size).toBe(0);
    });

    it("keeps settings across a restart", async () => {
      await store.update("alice", { lastSeenVisibility: "nobody" });
      await store.update("bob", { lastSeenVisibility: "everyone" });
      const reopened = await fixture.reopen();
      expect(await reopened.get("alice")).toEqual({ lastSeenVisibility: "nobody" });
      expect(await reopened.get("bob")).toEqual({ lastSeenVisibility: "everyone" });
      expect(await reopened.get("carol")).toEqual({ lastSeenVisibility: "contacts" });
    });
  });
}
