import { describeDeliveryChannelContract } from "../../ports/contract/delivery-channel.contract.js";
import { MemoryDeliveryChannel } from "./memory-delivery-channel.js";

describeDeliveryChannelContract("MemoryDeliveryChannel", () => {
  const channel = new MemoryDeliveryChannel();
  return Promise.resolve({ channel, gatewayId: (name: string) => name, cleanup: () => channel.close() });
});
