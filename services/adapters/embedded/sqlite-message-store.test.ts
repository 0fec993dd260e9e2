import { join } from "node:path";
import { describeMessageStoreContract } from "../../ports/contract/message-store.contract.js";
import type { MessageStore } from "../../ports/message-store.js";
import { makeTempDir } from "../../testing/temp-dir.js";
import { SqliteMessageStore } from "./sqlite-message-store.js";

describeMessageStoreContract("SqliteMessageStore", async () => {
  const dir = await makeTempDir("parley-sqlite-");
  const path = join(dir.path, "messages.db");
  const opened: MessageStore[] = [new SqliteMessageStore(path)];
  return {
    store: opened[0] as MessageStore,
    reopen: () => {
      const store = new SqliteMessageStore(path);
      opened.push(store);
      return Promise.resolve(store);
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()));
      await dir.remove();
    },
  };
});
