import type { Client } from "cassandra-driver";
import { afterAll, beforeAll } from "vitest";
import { describeAssetStoreContract } from "../../ports/contract/asset-store.contract.js";
import type { AssetStore } from "../../ports/asset-store.js";
import { CassandraAssetStore } from "./cassandra-asset-store.js";
import { connectTestClient, dropKeyspace, testCassandraOptions } from "./testing/test-keyspace.js";

let admin: Client;
beforeAll(async () => {
  admin = await connectTestClient();
});
afterAll(async () => {
  await admin.shutdown();
});

describeAssetStoreContract("CassandraAssetStore", async () => {
  // Each test gets a keyspace of its own; `reopen` is a new store (and client) on it.
  const options = testCassandraOptions("asset");
  const opened: AssetStore[] = [await CassandraAssetStore.open(options)];
  return {
    store: opened[0] as AssetStore,
    reopen: async () => {
      const store = await CassandraAssetStore.open(options);
      opened.push(store);
      return store;
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()));
      await dropKeyspace(admin, options.keyspace);
    },
  };
});
