import type { DeliveryChannel } from "../../ports/delivery-channel.js";
import type { JsonValue } from "../../ports/event-bus.js";

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

/**
 * A deep copy of a JSON value, so that a listener never shares the sender's objects (as
 * over a real channel). A plain walk: several times cheaper than a JSON round trip or
 * structuredClone for the small envelopes sent here, with no text made in between.
 */
function copyJson(value: JsonValue): JsonValue {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson);
  const copy: Record<string, JsonValue> = {};
  for (const key of Object.keys(value)) {
    const field = value[key];
    if (field !== undefined) copy[key] = copyJson(field);
  }
  return copy;
}
