import type { ConnectionRegistry, DeviceRoute } from "../ports/connection-registry.js";
import type { EventBus, JsonValue } from "../ports/event-bus.js";
import type { AppendedEvent } from "../ports/message-store.js";
import type { DeliveryEnvelope } from "./envelope.js";
import { gatewayDeliveryTopic } from "./topics.js";

/**
 * Sends stored inbox events to every connected device of their users: looks up the
 * devices in the connection registry and publishes one envelope per gateway that holds
 * some of them. Devices that are not connected find the events on their next sync.
 */
export class DeliveryRouter {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly bus: EventBus,
    private readonly clusterName: string,
  ) {}

  async deliver(events: readonly AppendedEvent[], storedAt: Date): Promise<void> {
    await Promise.all(events.map((appended) => this.deliverOne(appended, storedAt.getTime())));
  }

  private async deliverOne({ userId, event }: AppendedEvent, storedAt: number): Promise<void> {
    const routes = await this.registry.routesFor(userId);
    const byGateway = new Map<string, DeviceRoute[]>();
    for (const route of routes) {
      byGateway.set(route.gatewayId, [...(byGateway.get(route.gatewayId) ?? []), route]);
    }
    await Promise.all(
      [...byGateway].map(([gatewayId, gatewayRoutes]) => {
        const envelope: DeliveryEnvelope = {
          connectionIds: gatewayRoutes.map((r) => r.connectionId),
          userId,
          storedAt,
          event,
        };
        // Keyed by user so one user's events stay in order on a partitioned bus.
        return this.bus.publish(gatewayDeliveryTopic(this.clusterName, gatewayId), userId, envelope as unknown as JsonValue);
      }),
    );
  }
}
