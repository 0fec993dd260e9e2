import { describeHeldBatchStoreContract } from "../../ports/contract/held-batch-store.contract.js";
import { MemoryHeldBatchStore } from "./memory-held-batch-store.js";

describeHeldBatchStoreContract("MemoryHeldBatchStore", () => {
  const store = new MemoryHeldBatchStore();
  // One process: a second replica is the same memory.
  return Promise.resolve({ store, replica: () => store, cleanup: () => store.close() });
});
