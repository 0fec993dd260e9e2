import type { Client } from "cassandra-driver";
import { afterAll, beforeAll } from "vitest";
import { describeUserSettingsStoreContract } from "../../ports/contract/user-settings-store.contract.js";
import type { UserSettingsStore } from "../../ports/user-settings-store.js";
import { CassandraUserSettingsStore } from "./cassandra-user-settings-store.js";
import { connectTestClient, dropKeyspace, testCassandraOptions } from "./testing/test-keyspace.js";

let admin: Client;
beforeAll(async () => {
  admin = await connectTestClient();
});
afterAll(async () => {
  await admin.shutdown();
});

describeUserSettingsStoreContract("CassandraUserSettingsStore", async () => {
  // Each test gets a keyspace of its own; `reopen` is a new store (and client) on it.
  const options = testCassandraOptions("user_settings");
  const opened: UserSettingsStore[] = [await CassandraUserSettingsStore.open(options)];
  return {
    store: opened[0] as UserSettingsStore,
    reopen: async () => {
      const store = await CassandraUserSettingsStore.open(options);
      opened.push(store);
      return store;
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()));
      await dropKeyspace(admin, options.keyspace);
    },
  };
});
