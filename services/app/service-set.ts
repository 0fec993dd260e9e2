import { hostname } from "node:os";
import { LogNotificationSink } from "../adapters/embedded/log-notification-sink.js";
import { WebhookNotificationSink } from "../adapters/webhook/webhook-notification-sink.js";
import { AssetHttpApi } from "../assets/asset-http.js";
import { AssetService } from "../assets/asset-service.js";
import { assetLimitsFromConfig } from "../assets/content-type.js";
import { transferLimitsFromConfig } from "../assets/transfer-limits.js";
import { UploadSweeper } from "../assets/upload-sweeper.js";
import type { TokenAuthority } from "../auth/tokens.js";
import { CHAT_FRAME_TYPES, ChatFrameHandler } from "../chat/chat-frame-handler.js";
import { ChatService } from "../chat/chat-service.js";
import { ConversationAccess } from "../conversations/conversation-access.js";
import { DeliveryRouter } from "../delivery/delivery-router.js";
import type { FrameHandler } from "../ports/frame-handler.js";
import { FanoutService } from "../groups/fanout-service.js";
import { GROUP_FRAME_TYPES, GroupFrameHandler } from "../groups/group-frame-handler.js";
import { GroupService } from "../groups/group-service.js";
import { Notifier } from "../notifications/notifier.js";
import { PRESENCE_FRAME_TYPES, PresenceFrameHandler } from "../presence/presence-frame-handler.js";
import { PresenceService } from "../presence/presence-service.js";
import type { ServiceName } from "../events/service-names.js";
import type { Backends } from "./backends.js";
import type { Config } from "../runtime/config.js";
import type { FrameRoutes } from "../handoff/frame-router.js";
import type { HttpApi } from "../runtime/http-server.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import { MessageWriter } from "../conversations/message-writer.js";

export interface ServiceSetContext {
  config: Config;
  backends: Backends;
  tokens: TokenAuthority;
  jwtSecret: string;
  metrics: Metrics;
  logger: Logger;
}

export interface RunningServices {
  /** Frame handlers of the services started here, by frame type. */
  routes: FrameRoutes;
  /** HTTP endpoints of the services started here. */
  httpApis: HttpApi[];
  /** Stops the consumers; the back ends stay open. */
  stop(): Promise<void>;
}

/**
 * Starts the named services on the given back ends. `parley dev` starts them all in one
 * process; `parley serve <service>` starts one. Libraries that several services use
 * (conversation access, asset attachment checks) are built wherever they are needed:
 * they keep no state of their own beyond the shared stores.
 */
export async function startServiceSet(names: readonly ServiceName[], context: ServiceSetContext): Promise<RunningServices> {
  const { config, backends, metrics, logger } = context;
  const wanted = new Set(names);
  const router = new DeliveryRouter(backends.registry, backends.deliveries);
  const access = new ConversationAccess(backends.groups);
  const assets = new AssetService({
    assets: backends.assets,
    blobs: backends.blobs,
    access,
    secret: context.jwtSecret,
    limits: assetLimitsFromConfig(config),
    linkTtlSeconds: config.assetLinkTtlSeconds,
  });
  const writer = new MessageWriter({ assets, metrics });
  const chat = new ChatService({ store: backends.messages, access, writer, router, bus: backends.bus, clusterName: config.clusterName, logger });

  const routes: Partial<Record<keyof FrameRoutes, FrameHandler>> = {};
  const httpApis: HttpApi[] = [];
  const running: { stop(): Promise<void> }[] = [];
  const route = (types: readonly (keyof FrameRoutes)[], handler: FrameHandler): void => {
    for (const type of types) routes[type] = handler;
  };

  if (wanted.has("chat")) route(CHAT_FRAME_TYPES, new ChatFrameHandler(chat));

  if (wanted.has("groups")) {
    const groups = new GroupService({
      groups: backends.groups,
      messages: backends.messages,
      writer,
      bus: backends.bus,
      router,
      clusterName: config.clusterName,
      groupTopics: config.groupTopics,
      maxMembers: config.maxGroupMembers,
      logger,
    });
    route(GROUP_FRAME_TYPES, new GroupFrameHandler(groups));
    // Host and pid: unique among the processes of one machine and among pods (a pod's host name is its name).
    const fanout = new FanoutService({ ...config, processId: `${hostname()}-${process.pid}` }, { bus: backends.bus, groups: backends.groups, registry: backends.registry, heldBatches: backends.heldBatches, router, metrics, logger });
    const notifier = new Notifier(
      { clusterName: config.clusterName, minIntervalMs: config.notifyMinIntervalMs },
      {
        bus: backends.bus,
        sink:
          config.notifyWebhookUrl === undefined
            ? new LogNotificationSink(logger)
            : new WebhookNotificationSink({ url: config.notifyWebhookUrl, secret: config.notifyWebhookSecret ?? "" }),
        claims: backends.claims,
        metrics,
        logger,
      },
    );
    await fanout.start();
    await notifier.start();
    running.push(fanout, notifier);
  }

  if (wanted.has("presence")) {
    const presence = new PresenceService({
      bus: backends.bus,
      clusterName: config.clusterName,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      presence: backends.presence,
      watches: backends.watches,
      claims: backends.claims,
      settings: backends.settings,
      router,
      access,
      messages: backends.messages,
      logger,
    });
    await presence.start();
    running.push(presence);
    route(PRESENCE_FRAME_TYPES, new PresenceFrameHandler(presence));
  }

  if (wanted.has("assets")) {
    const sweeper = new UploadSweeper({ blobs: backends.blobs, logger });
    sweeper.start();
    running.push(sweeper);
    httpApis.push(
      new AssetHttpApi({ service: assets, tokens: context.tokens, maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds, logger, limits: transferLimitsFromConfig(config), corsOrigins: config.assetCorsOrigins }),
    );
  }

  return {
    routes,
    httpApis,
    async stop() {
      for (const service of running.reverse()) await service.stop();
    },
  };
}
