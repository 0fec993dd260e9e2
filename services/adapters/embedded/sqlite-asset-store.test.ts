import { join } from "node:path";
import { describeAssetStoreContract } from "../../ports/contract/asset-store.contract.js";
import type { AssetStore } from "../../ports/asset-store.js";
import { makeTempDir } from "../../testing/temp-dir.js";
import { SqliteAssetStore } from "./sqlite-asset-store.js";

describeAssetStoreContract("SqliteAssetStore", async () => {
  const dir = await makeTempDir("parley-sqlite-assets-");
  const path = join(dir.path, "assets.db");
  const opened: AssetStore[] = [new SqliteAssetStore(path)];
  return {
    store: opened[0] as AssetStore,
    reopen: () => {
      const store = new SqliteAssetStore(path);
      opened.push(store);
      return Promise.resolve(store);
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()));
      await dir.remove();
    },
  };
});
