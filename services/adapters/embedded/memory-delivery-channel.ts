import type { DeliveryChannel } from "../../ports/delivery-channel.js";
import type { JsonValue } from "../../ports/event-bus.js";
import { copyJson } from "./copy-json.js";

/** The in-process delivery channel: a handler per gateway id, called in send order. */
export class MemoryDeliveryChannel implements DeliveryChannel {
  private readonly listeners = new Map<string, Set<(envelope: JsonValue) => void>>();

  send(gatewayId: string, envelope: JsonValue): Promise<void> {
    const listeners = this.listeners.get(gatewayId);
    if (!listeners) return Promise.resolve();
    for (const listener of listeners) listener(copyJson(envelope));
    return Promise.resolve();
  }

  listen(gatewayId: string, handler: (envelope: JsonValue) => void): Promise<{ stop(): Promise<void> }> {
    const listeners = this.listeners.get(gatewayId) ?? new Set();
    listeners.add(handler);
    this.listeners.set(gatewayId, listeners);
    return Promise.resolve({
      stop: () => {
        listeners.delete(handler);
        if (listeners.size === 0) this.listeners.delete(gatewayId);
        return Promise.resolve();
      },
    });
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }
}

