import type { ConnectionRegistry, DeviceRoute } from "../ports/connection-registry.js";
import type { DeliveryChannel } from "../ports/delivery-channel.js";
import type { JsonValue } from "../ports/event-bus.js";
import type { AppendedEvent } from "../ports/message-store.js";
import type { PushFrame } from "../protocol/frames.js";
import type { UserId } from "../protocol/ids.js";
import type { DeliveryEnvelope } from "../events/delivery-envelope.js";

/**
 * Pushes frames to connected devices: looks up the devices in the connection registry and
 * sends one envelope per gateway that holds some of them. Devices that are not
 * connected get nothing here; durable content waits for their next sync.
 */
export class DeliveryRouter {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly channel: DeliveryChannel,
  ) {}

  /** Each stored inbox event to every connected device of its user. */
  async deliverInboxEvents(events: readonly AppendedEvent[], storedAt: Date): Promise<void> {
    await Promise.all(events.map(({ userId, event }) => this.pushToUser(userId, { type: "event", event }, storedAt.getTime())));
  }

  /** One frame to every connected device of a user; resolves with how many devices it went to. */
  async pushToUser(userId: UserId, frame: PushFrame, storedAt?: number): Promise<number> {
    return this.pushToRoutes(await this.registry.routesFor(userId), frame, storedAt);
  }

  /** One frame to the given connections, already looked up. */
  async pushToRoutes(routes: readonly DeviceRoute[], frame: PushFrame, storedAt?: number): Promise<number> {
    // One pass, appending in place: linear in the number of routes.
    const byGateway = new Map<string, string[]>();
    for (const route of routes) {
      const connectionIds = byGateway.get(route.gatewayId);
      if (connectionIds === undefined) byGateway.set(route.gatewayId, [route.connectionId]);
      else connectionIds.push(route.connectionId);
    }
    const sends: Promise<void>[] = [];
    for (const [gatewayId, connectionIds] of byGateway) {
      const envelope: DeliveryEnvelope = storedAt === undefined ? { connectionIds, frame } : { connectionIds, frame, storedAt };
      sends.push(this.channel.send(gatewayId, envelope as unknown as JsonValue));
    }
    await Promise.all(sends);
    return routes.length;
  }
}
