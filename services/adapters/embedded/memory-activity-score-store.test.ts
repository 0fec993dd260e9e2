import { describeActivityScoreStoreContract } from "../../ports/contract/activity-score-store.contract.js";
import { MemoryActivityScoreStore } from "./memory-activity-score-store.js";

describeActivityScoreStoreContract("MemoryActivityScoreStore", () => {
  const store = new MemoryActivityScoreStore();
  return Promise.resolve({ store, cleanup: () => store.close() });
});
