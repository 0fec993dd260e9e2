import { Cluster } from "ioredis";
import type { DeliveryChannel } from "../../ports/delivery-channel.js";
import type { JsonValue } from "../../ports/event-bus.js";
import { checkKeyPrefix, closeClient, openClient, type RedisAdapterOptions, type RedisClient, type RedisConnection } from "./redis-client.js";

export interface RedisDeliveryChannelOptions extends RedisAdapterOptions {
  /** Told about an envelope that is not JSON and about a handler that threw; default: a process warning. */
  onError?: (error: unknown) => void;
}

/**
 * The delivery channel on Redis pub/sub: one channel per gateway, `<prefix>deliver:<gatewayId>`,
 * carrying each envelope as JSON.
 *
 * Why pub/sub and not streams: this channel is at most once by contract. Everything
 * durable (messages, receipts) is in the message store and a device catches up with its
 * next sync, so a push lost while a gateway reconnects costs nothing but latency.
 * Pub/sub has no retention, hence nothing to trim, no consumer groups or acknowledgements
 * to keep, and no backlog replayed to a restarted gateway (its connections are new and
 * sync anyway); and it is the lowest-latency path Redis has, a PUBLISH being forwarded
 * straight to the subscribed socket.
 *
 * Standalone: PUBLISH / SUBSCRIBE. Cluster: sharded pub/sub (SPUBLISH / SSUBSCRIBE,
 * Redis 7), which ioredis 5.9 supports with the `shardedSubscribers` cluster option (one
 * subscriber connection per master). A sharded channel lives in the slot of its name,
 * so an envelope goes to the one node that owns it and only that node's subscribers
 * see it. Classic PUBLISH in a cluster is broadcast over the cluster bus to every node,
 * so every node pays for every envelope and the cluster's pub/sub capacity does not grow
 * with its size.
 *
 * Ordering: the sends to one gateway go over one connection to one node, which
 * forwards them in order to the one subscriber connection: in order per gateway.
 *
 * Subscriptions use a dedicated connection (a subscribing connection can do nothing
 * else), opened at the first listen; ioredis re-subscribes after a reconnect. Envelopes
 * published while it is down are lost, which the contract allows.
 */
export class RedisDeliveryChannel implements DeliveryChannel {
  private readonly publisher: RedisClient;
  private readonly owned: boolean;
  private readonly sharded: boolean;
  private readonly prefix: string;
  private readonly onError: (error: unknown) => void;
  private subscriber: RedisClient | undefined;
  /** Channel name -> its handlers and the subscription they wait for. */
  private readonly channels = new Map<string, Subscription>();
  private closed = false;

  constructor(connection: RedisConnection, options: RedisDeliveryChannelOptions) {
    checkKeyPrefix(options.keyPrefix);
    ({ client: this.publisher, owned: this.owned } = openClient(connection));
    this.sharded = this.publisher instanceof Cluster;
    this.prefix = options.keyPrefix;
    this.onError =
      options.onError ??
      ((error: unknown) => {
        process.emitWarning(`Redis delivery channel: ${String(error)}`);
      });
  }

  async send(gatewayId: string, envelope: JsonValue): Promise<void> {
    const channel = this.channelOf(gatewayId);
    const payload = JSON.stringify(envelope);
    if (this.sharded) await this.publisher.spublish(channel, payload);
    else await this.publisher.publish(channel, payload);
  }

  async listen(gatewayId: string, handler: (envelope: JsonValue) => void): Promise<{ stop(): Promise<void> }> {
    if (this.closed) throw new Error("the delivery channel is closed");
    const channel = this.channelOf(gatewayId);
    let subscription = this.channels.get(channel);
    if (!subscription) {
      // Issued now, in call order with any UNSUBSCRIBE of the same channel, so the last word wins.
      subscription = { handlers: new Set(), acknowledged: this.subscribe(channel) };
      this.channels.set(channel, subscription);
    }
    const listener: Listener = { handler };
    subscription.handlers.add(listener);
    const current = subscription;
    try {
      await current.acknowledged;
    } catch (error) {
      await this.remove(channel, current, listener);
      throw error;
    }
    return { stop: () => this.remove(channel, current, listener) };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.channels.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    await Promise.all([subscriber ? closeClient(subscriber) : undefined, this.owned ? closeClient(this.publisher) : undefined]);
  }

  private channelOf(gatewayId: string): string {
    return `${this.prefix}deliver:${gatewayId}`;
  }

  private async subscribe(channel: string): Promise<void> {
    const subscriber = this.subscriberConnection();
    if (this.sharded) await subscriber.ssubscribe(channel);
    else await subscriber.subscribe(channel);
  }

  private async remove(channel: string, subscription: Subscription, listener: Listener): Promise<void> {
    if (!subscription.handlers.delete(listener)) return;
    if (subscription.handlers.size > 0 || this.channels.get(channel) !== subscription) return;
    this.channels.delete(channel);
    const subscriber = this.subscriber;
    if (!subscriber) return;
    if (this.sharded) await subscriber.sunsubscribe(channel);
    else await subscriber.unsubscribe(channel);
  }

  private subscriberConnection(): RedisClient {
    if (this.subscriber) return this.subscriber;
    const subscriber =
      this.publisher instanceof Cluster ? this.publisher.duplicate([], { shardedSubscribers: true }) : this.publisher.duplicate({ enableAutoPipelining: false });
    subscriber.on("error", (error: unknown) => {
      this.onError(error);
    });
    subscriber.on(this.sharded ? "smessage" : "message", (channel: string, message: string) => {
      this.deliver(channel, message);
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  private deliver(channel: string, message: string): void {
    const subscription = this.channels.get(channel);
    if (!subscription) return;
    for (const { handler } of [...subscription.handlers]) {
      let envelope: JsonValue;
      try {
        // Parsed per handler: each gets its own copy.
        envelope = JSON.parse(message) as JsonValue;
      } catch (error) {
        this.onError(new Error(`dropped an envelope on ${channel} that is not JSON`, { cause: error }));
        return;
      }
      try {
        handler(envelope);
      } catch (error) {
        this.onError(error);
      }
    }
  }
}

interface Listener {
  handler: (envelope: JsonValue) => void;
}

interface Subscription {
  handlers: Set<Listener>;
  acknowledged: Promise<void>;
}
