import { join } from "node:path";
import { describeGroupStoreContract } from "../../ports/contract/group-store.contract.js";
import type { GroupStore } from "../../ports/group-store.js";
import { makeTempDir } from "../../testing/temp-dir.js";
import { SqliteGroupStore } from "./sqlite-group-store.js";

describeGroupStoreContract("SqliteGroupStore", async () => {
  const dir = await makeTempDir("parley-sqlite-groups-");
  const path = join(dir.path, "groups.db");
  const opened: GroupStore[] = [new SqliteGroupStore(path)];
  return {
    store: opened[0] as GroupStore,
    reopen: () => {
      const store = new SqliteGroupStore(path);
      opened.push(store);
      return Promise.resolve(store);
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()));
      await dir.remove();
    },
  };
});
