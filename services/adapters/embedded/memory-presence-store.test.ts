import { describePresenceStoreContract } from "../../ports/contract/presence-store.contract.js";
import { ManualClock } from "../../testing/clock.js";
import { MemoryPresenceStore } from "./memory-presence-store.js";

describePresenceStoreContract("MemoryPresenceStore", () => {
  const clock = new ManualClock();
  const store = new MemoryPresenceStore(clock.now);
  return Promise.resolve({ store, advance: clock.advance, cleanup: () => store.close() });
});
