import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { FsBlobStore } from "../adapters/embedded/fs-blob-store.js";
import { MemoryConnectionRegistry } from "../adapters/embedded/memory-connection-registry.js";
import { MemoryDeliveryChannel } from "../adapters/embedded/memory-delivery-channel.js";
import { MemoryEventBus } from "../adapters/embedded/memory-event-bus.js";
import { MemoryHeldBatchStore } from "../adapters/embedded/memory-held-batch-store.js";
import { MemoryOncePerWindow } from "../adapters/embedded/memory-once-per-window.js";
import { MemoryPresenceStore } from "../adapters/embedded/memory-presence-store.js";
import { MemoryPresenceWatchStore } from "../adapters/embedded/memory-presence-watch-store.js";
import { SqliteAssetStore } from "../adapters/embedded/sqlite-asset-store.js";
import { SqliteGroupStore } from "../adapters/embedded/sqlite-group-store.js";
import { SqliteMessageStore } from "../adapters/embedded/sqlite-message-store.js";
import { SqliteUserSettingsStore } from "../adapters/embedded/sqlite-user-settings-store.js";
import type { Backends } from "./backends.js";
import type { Logger } from "../runtime/logger.js";

/** The laptop back ends: SQLite files and blobs under `dataDir`, bus and registry in memory. */
export function openEmbeddedBackends(dataDir: string, logger: Logger): Backends {
  mkdirSync(dataDir, { recursive: true });
  const backends = {
    bus: new MemoryEventBus((error, event) => {
      logger.error({ err: error, topic: event.topic }, "event handler failed");
    }),
    deliveries: new MemoryDeliveryChannel(),
    registry: new MemoryConnectionRegistry(),
    messages: new SqliteMessageStore(join(dataDir, "messages.db"), (message) => {
      logger.warn({ store: "messages.db" }, `write-ahead log checkpoint failed (SQLite checkpoints by itself past 32 MiB of log): ${message}`);
    }),
    groups: new SqliteGroupStore(join(dataDir, "groups.db")),
    presence: new MemoryPresenceStore(),
    // In memory: right for one process; `parley serve` replicas share Redis instead.
    watches: new MemoryPresenceWatchStore(),
    claims: new MemoryOncePerWindow(),
    heldBatches: new MemoryHeldBatchStore(),
    settings: new SqliteUserSettingsStore(join(dataDir, "settings.db")),
    assets: new SqliteAssetStore(join(dataDir, "assets.db")),
    blobs: new FsBlobStore(join(dataDir, "blobs")),
  };
  return {
    ...backends,
    async close() {
      for (const adapter of Object.values(backends)) await adapter.close();
    },
  };
}
