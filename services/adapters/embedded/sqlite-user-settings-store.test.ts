import { join } from "node:path";
import { describeUserSettingsStoreContract } from "../../ports/contract/user-settings-store.contract.js";
import type { UserSettingsStore } from "../../ports/user-settings-store.js";
import { makeTempDir } from "../../testing/temp-dir.js";
import { SqliteUserSettingsStore } from "./sqlite-user-settings-store.js";

describeUserSettingsStoreContract("SqliteUserSettingsStore", async () => {
  const dir = await makeTempDir("parley-settings-");
  const path = join(dir.path, "settings.db");
  const opened: UserSettingsStore[] = [new SqliteUserSettingsStore(path)];
  return {
    store: opened[0] as UserSettingsStore,
    reopen: async () => {
      // A restart: the first process is gone before the next one opens the file.
      await Promise.all(opened.map((store) => store.close()));
      const store = new SqliteUserSettingsStore(path);
      opened.push(store);
      return store;
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()));
      await dir.remove();
    },
  };
});
