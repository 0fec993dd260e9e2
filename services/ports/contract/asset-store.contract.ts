import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { directConversationId, groupConversationId, type AssetId } from "../../protocol/ids.js";
import { AssetExistsError, type AssetRecord, type AssetStore } from "../asset-store.js";

export interface AssetStoreFixture {
  /** An empty store. */
  store: AssetStore;
  /**
   * Opens another store on the same data, as a restarted process would. The test closes
   * `store` first. Every AssetStore is durable, so every adapter can do this.
   */
  reopen: () => Promise<AssetStore>;
  /** Closes every store the fixture opened and removes their data. */
  cleanup: () => Promise<void>;
}

const ASSET_1: AssetId = "a01JZ0000000000000000000001";
const ASSET_2: AssetId = "a01JZ0000000000000000000002";
const ASSET_3: AssetId = "a01JZ0000000000000000000003";
const ALICE_BOB = directConversationId("alice", "bob");
const ALICE_CAROL = directConversationId("alice", "carol");
const GROUP = groupConversationId("g01JZ0000000000000000000001");
const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);

function asset(assetId: AssetId, overrides: Partial<AssetRecord> = {}): AssetRecord {
  return {
    assetId,
    ownerId: "alice",
    sha256: SHA_A,
    size: 1234,
    contentType: "image/png",
    createdAt: new Date(Date.UTC(2030, 0, 1, 12, 0, 0, 123)),
    ...overrides,
  };
}

const sorted = (ids: string[]): string[] => [...ids].sort();

/** The semantics every AssetStore adapter must have. */
export function describeAssetStoreContract(name: string, create: () => Promise<AssetStoreFixture>): void {
  describe(`AssetStore contract: ${name}`, () => {
    let fixture: AssetStoreFixture;
    let store: AssetStore;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it("knows no asset it was not given", async () => {
      expect(await store.get(ASSET_1)).toBeNull();
      expect(await store.sharedIn(ASSET_1)).toEqual([]);
    });

    it("returns a created asset with every field as created", async () => {
      const record = asset(ASSET_1, { ownerId: "bob", sha256: SHA_B, size: 64 * 1024 * 1024, contentType: "video/mp4" });
      await store.create(record);
      expect(await store.get(ASSET_1)).toEqual(record);
      expect(await store.get(ASSET_2)).toBeNull();
    });

    it("refuses a second asset with the same id and keeps the first", async () => {
      const first = asset(ASSET_1);
      await store.create(first);
      await expect(store.create(asset(ASSET_1, { ownerId: "mallory", sha256: SHA_B }))).rejects.toBeInstanceOf(AssetExistsError);
      expect(await store.get(ASSET_1)).toEqual(first);
    });

    it("keeps separate records for the same bytes uploaded twice", async () => {
      await store.create(asset(ASSET_1, { ownerId: "alice" }));
      await store.create(asset(ASSET_2, { ownerId: "bob" }));
      expect((await store.get(ASSET_1))?.ownerId).toBe("alice");
      expect((await store.get(ASSET_2))?.ownerId).toBe("bob");
      expect((await store.get(ASSET_2))?.sha256).toBe(SHA_A);
    });

    it("is not shared anywhere until a share is recorded", async () => {
      await store.create(asset(ASSET_1));
      expect(await store.sharedIn(ASSET_1)).toEqual([]);
      await store.recordShare([ASSET_1], ALICE_BOB);
      expect(await store.sharedIn(ASSET_1)).toEqual([ALICE_BOB]);
    });

    it("lists each conversation once however often the asset was shared there", async () => {
      await store.create(asset(ASSET_1));
      await store.recordShare([ASSET_1], ALICE_BOB);
      await store.recordShare([ASSET_1], GROUP);
      await store.recordShare([ASSET_1], ALICE_BOB);
      await store.recordShare([ASSET_1, ASSET_1], ALICE_CAROL);
      expect(sorted(await store.sharedIn(ASSET_1))).toEqual(sorted([ALICE_BOB, ALICE_CAROL, GROUP]));
    });

    it("records a share of several assets at once, per asset", async () => {
      for (const id of [ASSET_1, ASSET_2, ASSET_3]) await store.create(asset(id));
      await store.recordShare([ASSET_1, ASSET_2], ALICE_BOB);
      await store.recordShare([ASSET_2], GROUP);
      expect(await store.sharedIn(ASSET_1)).toEqual([ALICE_BOB]);
      expect(sorted(await store.sharedIn(ASSET_2))).toEqual(sorted([ALICE_BOB, GROUP]));
      expect(await store.sharedIn(ASSET_3)).toEqual([]);
    });

    it("treats an empty share as a no-op", async () => {
      await store.recordShare([], ALICE_BOB);
      expect(await store.sharedIn(ASSET_1)).toEqual([]);
    });

    it("keeps assets and shares across a reopen", async () => {
      const record = asset(ASSET_1);
      await store.create(record);
      await store.recordShare([ASSET_1], GROUP);
      await store.close();
      const reopened = await fixture.reopen();
      expect(await reopened.get(ASSET_1)).toEqual(record);
      expect(await reopened.sharedIn(ASSET_1)).toEqual([GROUP]);
      await expect(reopened.create(record)).rejects.toBeInstanceOf(AssetExistsError);
    });
  });
}
