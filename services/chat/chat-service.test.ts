import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryConnectionRegistry } from "../adapters/embedded/memory-connection-registry.js";
import { MemoryDeliveryChannel } from "../adapters/embedded/memory-delivery-channel.js";
import { MemoryEventBus } from "../adapters/embedded/memory-event-bus.js";
import { SqliteGroupStore } from "../adapters/embedded/sqlite-group-store.js";
import { SqliteMessageStore } from "../adapters/embedded/sqlite-message-store.js";
import { ConversationAccess } from "../conversations/conversation-access.js";
import { MessageWriter } from "../conversations/message-writer.js";
import { DeliveryRouter } from "../delivery/delivery-router.js";
import type { NotificationRequest } from "../events/notification-request.js";
import { CONSUMER_GROUPS, notificationTopic } from "../events/topics.js";
import { subscribeTo } from "../ports/event-bus.js";
import { directConversationId } from "../protocol/ids.js";
import { createLogger } from "../runtime/logger.js";
import { Metrics } from "../runtime/metrics.js";
import { makeTempDir, type TempDir } from "../testing/temp-dir.js";
import { ChatService } from "./chat-service.js";

const CLUSTER = "test";

let dir: TempDir;
let messages: SqliteMessageStore;
let groups: SqliteGroupStore;
let registry: MemoryConnectionRegistry;
let channel: MemoryDeliveryChannel;
let bus: MemoryEventBus;
let chat: ChatService;
let requests: NotificationRequest[];
let nextRequest: ((request: NotificationRequest) => void) | undefined;

beforeEach(async () => {
  dir = await makeTempDir("parley-chat-");
  messages = new SqliteMessageStore(join(dir.path, "messages.db"));
  groups = new SqliteGroupStore(join(dir.path, "groups.db"));
  registry = new MemoryConnectionRegistry();
  channel = new MemoryDeliveryChannel();
  bus = new MemoryEventBus((error) => {
    throw error;
  });
  requests = [];
  await subscribeTo(
    bus,
    notificationTopic(CLUSTER),
    CONSUMER_GROUPS.notifier,
    (request) => {
      requests.push(request);
      nextRequest?.(request);
    },
    () => {
      throw new Error("the chat service published a malformed notification request");
    },
  );
  const noAssets = { checkAttachable: () => Promise.reject(new Error("no assets in these tests")), recordShare: () => Promise.resolve() };
  chat = new ChatService({
    store: messages,
    access: new ConversationAccess(groups),
    writer: new MessageWriter({ assets: noAssets, metrics: new Metrics() }),
    router: new DeliveryRouter(registry, channel),
    bus,
    clusterName: CLUSTER,
    logger: createLogger("silent"),
  });
});

afterEach(async () => {
  await bus.close();
  await Promise.all([messages.close(), groups.close(), registry.close(), channel.close()]);
  await dir.remove();
});

/** Resolves with the next notification request published. */
function requestPublished(): Promise<NotificationRequest> {
  return new Promise((resolve) => (nextRequest = resolve));
}

/** Resolves with the next envelope the gateway `gatewayId` receives. */
async function delivered(gatewayId: string): Promise<unknown> {
  return new Promise((resolve) => {
    void channel.listen(gatewayId, resolve);
  });
}

describe("a direct message", () => {
  it("to a recipient with no device connected asks for a notification, like an offline group member", async () => {
    const published = requestPublished();
    const { message } = await chat.send({ userId: "alice", deviceId: "phone" }, "bob", "c-1", { text: "hi" });
    expect(await published).toEqual({ userIds: ["bob"], conversationId: directConversationId("alice", "bob"), messageId: message.messageId, senderId: "alice", seq: message.seq });
  });

  it("to a recipient with a device connected is pushed to it and asks for no notification", async () => {
    await registry.register({ userId: "bob", deviceId: "laptop", connectionId: "b1", gatewayId: "gw-1" }, 60_000);
    const pushed = delivered("gw-1");
    await chat.send({ userId: "alice", deviceId: "phone" }, "bob", "c-1", { text: "hi" });
    await pushed;
    // A second message to an offline user proves requests flow, and that none came before it.
    const published = requestPublished();
    await chat.send({ userId: "alice", deviceId: "phone" }, "carol", "c-2", { text: "hi" });
    expect((await published).userIds).toEqual(["carol"]);
    expect(requests.flatMap((request) => request.userIds)).toEqual(["carol"]);
  });
});
