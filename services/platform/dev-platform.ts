import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { MemoryConnectionRegistry } from "../adapters/embedded/memory-connection-registry.js";
import { MemoryEventBus } from "../adapters/embedded/memory-event-bus.js";
import { SqliteGroupStore } from "../adapters/embedded/sqlite-group-store.js";
import { SqliteMessageStore } from "../adapters/embedded/sqlite-message-store.js";
import { FsBlobStore } from "../adapters/embedded/fs-blob-store.js";
import { SqliteAssetStore } from "../adapters/embedded/sqlite-asset-store.js";
import { AssetHttpApi } from "../assets/asset-http.js";
import { AssetService } from "../assets/asset-service.js";
import { assetLimitsFromConfig } from "../assets/content-type.js";
import { loadOrCreateDevSecret } from "../auth/dev-secret.js";
import { TokenAuthority } from "../auth/tokens.js";
import { ChatFrameHandler } from "../chat/chat-frame-handler.js";
import { ChatService } from "../chat/chat-service.js";
import { LogNotificationSink } from "../adapters/embedded/log-notification-sink.js";
import { WebhookNotificationSink } from "../adapters/webhook/webhook-notification-sink.js";
import { FanoutService } from "../groups/fanout-service.js";
import { GROUP_FRAME_TYPES, GroupFrameHandler } from "../groups/group-frame-handler.js";
import { GroupService } from "../groups/group-service.js";
import { Notifier } from "../notifications/notifier.js";
import { ConversationAccess } from "../chat/conversation-access.js";
import { DeliveryRouter } from "../delivery/delivery-router.js";
import { Gateway } from "../gateway/gateway.js";
import type { Config } from "./config.js";
import { FrameRouter } from "./frame-router.js";
import { createHttpServer, WEBSOCKET_PATH } from "./http-server.js";
import type { Logger } from "./logger.js";
import { Metrics } from "./metrics.js";

export interface RunningPlatform {
  /** http://host:port */
  url: string;
  /** ws://host:port/ws */
  websocketUrl: string;
  port: number;
  tokens: TokenAuthority;
  gateway: Gateway;
  metrics: Metrics;
  /** Drains the gateway, then closes the server and the back ends. Safe to call twice. */
  stop(): Promise<void>;
}

/** Every service in one process on the embedded back ends: what `parley dev` runs. */
export async function startDevPlatform(config: Config, logger: Logger): Promise<RunningPlatform> {
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const jwtSecret = config.jwtSecret ?? loadOrCreateDevSecret(dataDir);
  const tokens = new TokenAuthority(jwtSecret);
  const metrics = new Metrics();

  const bus = new MemoryEventBus((error, event) => {
    logger.error({ err: error, topic: event.topic }, "event handler failed");
  });
  const registry = new MemoryConnectionRegistry();
  const messages = new SqliteMessageStore(join(dataDir, "messages.db"));
  const groups = new SqliteGroupStore(join(dataDir, "groups.db"));
  const router = new DeliveryRouter(registry, bus, config.clusterName);
  const access = new ConversationAccess(groups);
  // Stopped in order after the gateway drains: consumers first, then the stores.
  const services: { stop(): Promise<void> }[] = [];
  const assetStore = new SqliteAssetStore(join(dataDir, "assets.db"));
  const blobs = new FsBlobStore(join(dataDir, "blobs"));
  const closeables: { close(): Promise<void> }[] = [messages, groups, assetStore, blobs];

  const assets = new AssetService({
    assets: assetStore,
    blobs,
    access,
    secret: jwtSecret,
    limits: assetLimitsFromConfig(config),
    linkTtlSeconds: config.assetLinkTtlSeconds,
  });
  const chat = new ChatService({ store: messages, access, assets, router, metrics, logger });
  const chatFrames = new ChatFrameHandler(chat);

  const groupService = new GroupService({
    groups,
    messages,
    chat,
    bus,
    router,
    clusterName: config.clusterName,
    maxMembers: config.maxGroupMembers,
    logger,
  });
  const groupFrames = new GroupFrameHandler(groupService);
  const fanout = new FanoutService(config, { bus, groups, registry, router, metrics, logger });
  await fanout.start();
  const notifier = new Notifier(
    { clusterName: config.clusterName, minIntervalMs: config.notifyMinIntervalMs },
    {
      bus,
      sink: config.notifyWebhookUrl === undefined ? new LogNotificationSink(logger) : new WebhookNotificationSink(config.notifyWebhookUrl),
      metrics,
      logger,
    },
  );
  await notifier.start();
  services.push(fanout, notifier);

  const gateway = new Gateway(
    { ...config, gatewayId: config.gatewayId ?? `gateway-${randomBytes(4).toString("hex")}` },
    {
      registry,
      bus,
      tokens,
      handler: new FrameRouter({
        send: chatFrames,
        receipt: chatFrames,
        sync: chatFrames,
        history: chatFrames,
        ...Object.fromEntries(GROUP_FRAME_TYPES.map((type) => [type, groupFrames])),
      }),
      metrics,
      logger,
    },
  );
  await gateway.start();

  const server = createHttpServer(gateway, metrics, logger, [new AssetHttpApi({ service: assets, tokens, logger })]);
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await gateway.shutdown();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => { done(); }));
      for (const service of services) await service.stop();
      await bus.close();
      await registry.close();
      for (const closeable of closeables) await closeable.close();
    })());

  return { url: `http://${host}:${port}`, websocketUrl: `ws://${host}:${port}${WEBSOCKET_PATH}`, port, tokens, gateway, metrics, stop };
}
