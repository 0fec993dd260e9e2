import { describePresenceWatchStoreContract } from "../../ports/contract/presence-watch-store.contract.js";
import { ManualClock } from "../../testing/clock.js";
import { MemoryPresenceWatchStore } from "./memory-presence-watch-store.js";

describePresenceWatchStoreContract("MemoryPresenceWatchStore", () => {
  const clock = new ManualClock();
  const store = new MemoryPresenceWatchStore(clock.now);
  return Promise.resolve({ store, advance: clock.advance, cleanup: () => store.close() });
});
