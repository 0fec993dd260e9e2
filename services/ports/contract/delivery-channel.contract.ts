import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DeliveryChannel } from "../delivery-channel.js";
import type { JsonValue } from "../event-bus.js";

export interface DeliveryChannelFixture {
  channel: DeliveryChannel;
  /** Ids unique to this run, so runs against a shared server do not meet. */
  gatewayId: (name: string) => string;
  cleanup: () => Promise<void>;
}

/** The DeliveryChannel contract; every adapter runs it. */
export function describeDeliveryChannelContract(name: string, create: () => Promise<DeliveryChannelFixture>): void {
  describe(`DeliveryChannel contract: ${name}`, () => {
    let fixture: DeliveryChannelFixture;

    beforeEach(async () => {
      fixture = await create();
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    function collect(count: number): { received: JsonValue[]; done: Promise<void>; handler: (e: JsonValue) => void } {
      const received: JsonValue[] = [];
      let resolve: () => void = () => undefined;
      const done = new Promise<void>((r) => (resolve = r));
      return {
        received,
        done,
        handler: (envelope) => {
          received.push(envelope);
          if (received.length === count) resolve();
        },
      };
    }

    it("delivers to the listening gateway only, in send order", async () => {
      const a = fixture.gatewayId("a");
      const b = fixture.gatewayId("b");
      const atA = collect(20);
      const atB = collect(1);
      await fixture.channel.listen(a, atA.handler);
      await fixture.channel.listen(b, atB.handler);
      for (let i = 0; i < 20; i++) await fixture.channel.send(a, { n: i });
      await fixture.channel.send(b, { n: "last" });
      await atA.done;
      await atB.done;
      expect(atA.received).toEqual(Array.from({ length: 20 }, (_, i) => ({ n: i })));
      // b's only envelope was sent after all of a's, so b's arrival means a got nothing more.
      expect(atB.received).toEqual([{ n: "last" }]);
    });

    it("hands over a copy of the envelope", async () => {
      const gateway = fixture.gatewayId("copy");
      const at = collect(1);
      await fixture.channel.listen(gateway, at.handler);
      const envelope = { frame: { text: "original" } };
      await fixture.channel.send(gateway, envelope);
      envelope.frame.text = "changed";
      await at.done;
      expect(at.received).toEqual([{ frame: { text: "original" } }]);
    });

    it("stops delivering to a listener that stopped", async () => {
      const gone = fixture.gatewayId("gone");
      const control = fixture.gatewayId("control");
      const atGone = collect(1);
      const atControl = collect(1);
      const listener = await fixture.channel.listen(gone, atGone.handler);
      await fixture.channel.listen(control, atControl.handler);
      await listener.stop();
      await fixture.channel.send(gone, { n: 1 });
      await fixture.channel.send(control, { n: 2 });
      await atControl.done;
      expect(atGone.received).toEqual([]);
    });

    it("accepts sends to a gateway nobody listens on", async () => {
      await expect(fixture.channel.send(fixture.gatewayId("nobody"), { n: 1 })).resolves.toBeUndefined();
    });
  });
}
