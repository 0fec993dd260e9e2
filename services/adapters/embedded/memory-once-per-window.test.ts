import { describeOncePerWindowContract } from "../../ports/contract/once-per-window.contract.js";
import { ManualClock } from "../../testing/clock.js";
import { MemoryOncePerWindow } from "./memory-once-per-window.js";

describeOncePerWindowContract("MemoryOncePerWindow", () => {
  const clock = new ManualClock();
  const store = new MemoryOncePerWindow(clock.now);
  return Promise.resolve({ store, advance: clock.advance, cleanup: () => store.close() });
});
