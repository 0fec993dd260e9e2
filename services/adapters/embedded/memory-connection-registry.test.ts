import { describeConnectionRegistryContract } from "../../ports/contract/connection-registry.contract.js";
import { ManualClock } from "../../testing/clock.js";
import { MemoryConnectionRegistry } from "./memory-connection-registry.js";

describeConnectionRegistryContract("MemoryConnectionRegistry", () => {
  const clock = new ManualClock();
  const registry = new MemoryConnectionRegistry(clock.now);
  return Promise.resolve({ registry, advance: clock.advance, cleanup: () => registry.close() });
});
