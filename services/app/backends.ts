import type { AssetStore } from "../ports/asset-store.js";
import type { BlobStore } from "../ports/blob-store.js";
import type { ConnectionRegistry } from "../ports/connection-registry.js";
import type { DeliveryChannel } from "../ports/delivery-channel.js";
import type { EventBus } from "../ports/event-bus.js";
import type { GroupStore } from "../ports/group-store.js";
import type { HeldBatchStore } from "../ports/held-batch-store.js";
import type { MessageStore } from "../ports/message-store.js";
import type { OncePerWindow } from "../ports/once-per-window.js";
import type { PresenceStore } from "../ports/presence-store.js";
import type { PresenceWatchStore } from "../ports/presence-watch-store.js";
import type { UserSettingsStore } from "../ports/user-settings-store.js";

/**
 * Every port the services use, implemented by one family of adapters: the embedded ones
 * (one process, `parley dev`) or the production ones (Kafka, Cassandra, Redis, S3).
 * Services receive this and never know which.
 */
export interface Backends {
  bus: EventBus;
  deliveries: DeliveryChannel;
  registry: ConnectionRegistry;
  messages: MessageStore;
  groups: GroupStore;
  presence: PresenceStore;
  /** Presence subscriptions, shared by presence replicas. */
  watches: PresenceWatchStore;
  /** Once-per-window limits (typing pushes, notifications), shared by replicas. */
  claims: OncePerWindow;
  /** Idle members' held group messages, shared by groups replicas. */
  heldBatches: HeldBatchStore;
  settings: UserSettingsStore;
  assets: AssetStore;
  blobs: BlobStore;
  /** Closes every adapter; consumers must be stopped first. */
  close(): Promise<void>;
}
