import { describe, expect, it } from "vitest";
import { describeDeliveryChannelContract } from "../../ports/contract/delivery-channel.contract.js";
import type { JsonValue } from "../../ports/event-bus.js";
import { RedisDeliveryChannel } from "./redis-delivery-channel.js";
import { redisTargets, uniqueKeyPrefix } from "./testing/redis-test-support.js";

for (const target of redisTargets()) {
  // Built from options: the channel owns its publishing and subscribing clients. Channel
  // names carry the run's unique prefix, so the gateway ids need not be unique themselves.
  describeDeliveryChannelContract(`RedisDeliveryChannel on ${target.name} Redis`, () => {
    const channel = new RedisDeliveryChannel(target.options(), { keyPrefix: uniqueKeyPrefix() });
    return Promise.resolve({ channel, gatewayId: (name: string) => name, cleanup: () => channel.close() });
  });

  describe(`RedisDeliveryChannel on ${target.name} Redis`, () => {
    it("carries envelopes from a router's instance to many gateways' instances, in order per gateway", async () => {
      const keyPrefix = uniqueKeyPrefix();
      const router = new RedisDeliveryChannel(target.client(), { keyPrefix });
      // One channel instance per gateway, as on separate pods; in a cluster their channels spread over the nodes.
      const gateways = Array.from({ length: 12 }, (_, i) => ({
        gatewayId: `gateway-${i}`,
        channel: new RedisDeliveryChannel(target.options(), { keyPrefix }),
        received: [] as JsonValue[],
      }));
      const perGateway = 5;
      let remaining = gateways.length * perGateway;
      let allArrived: () => void = () => undefined;
      const arrived = new Promise<void>((resolve) => (allArrived = resolve));
      try {
        await Promise.all(
          gateways.map(({ gatewayId, channel, received }) =>
            channel.listen(gatewayId, (envelope) => {
              received.push(envelope);
              if (--remaining === 0) allArrived();
            }),
          ),
        );
        for (let n = 0; n < perGateway; n++) for (const { gatewayId } of gateways) await router.send(gatewayId, { gatewayId, n });
        await arrived;
        for (const { gatewayId, received } of gateways) {
          expect(received).toEqual(Array.from({ length: perGateway }, (_, n) => ({ gatewayId, n })));
        }
      } finally {
        await Promise.all([router.close(), ...gateways.map(({ channel }) => channel.close())]);
      }
    });

    it("gives each of several handlers on one gateway its own copy", async () => {
      const channel = new RedisDeliveryChannel(target.options(), { keyPrefix: uniqueKeyPrefix() });
      try {
        // What each handler found on arrival; each then scribbles on the envelope it got.
        const seenOnArrival: string[] = [];
        let done: () => void = () => undefined;
        const both = new Promise<void>((resolve) => (done = resolve));
        const handler = () => (envelope: JsonValue): void => {
          const frame = envelope as { text: string };
          seenOnArrival.push(frame.text);
          frame.text = "changed by a handler";
          if (seenOnArrival.length === 2) done();
        };
        await channel.listen("gw", handler());
        await channel.listen("gw", handler());
        await channel.send("gw", { text: "hello" });
        await both;
        expect(seenOnArrival).toEqual(["hello", "hello"]);
      } finally {
        await channel.close();
      }
    });
  });
}
