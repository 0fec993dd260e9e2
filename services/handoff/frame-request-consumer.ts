import type { FrameHandler } from "../ports/frame-handler.js";
import type { DeliveryChannel } from "../ports/delivery-channel.js";
import { type EventBus, type JsonValue, subscribeTo, type Subscription } from "../ports/event-bus.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import type { ServerFrame } from "../protocol/frames.js";
import type { Logger } from "../runtime/logger.js";
import type { FrameRequest} from "../events/frame-request.js";
import { type FrameReply } from "../events/frame-request.js";
import type { ServiceName } from "../events/service-names.js";
import { CONSUMER_GROUPS, replyChannel, requestTopic } from "../events/topics.js";

/**
 * A service process's side of the hand-over: consumes its request topic (one consumer
 * group per service, so replicas share the load) and answers each request on the
 * reply channel of the gateway that sent it.
 *
 * Requests are keyed by user id (`RemoteFrameHandler`), and the bus handles one key's
 * events one at a time, in order: a user's frames are handled in the order their gateway
 * sent them, each after the previous one has finished (ADR 0005, protocol section 7).
 * Requests of different users run side by side, up to `concurrency`: what a service
 * waits for is the store, so one process keeps many users' requests in flight instead of
 * one. A request handed to the service twice (replayed after a crash) is harmless: sends
 * are deduplicated by clientMessageId, receipts only advance marks, the rest are reads
 * or set-like changes; `group.create` would create a second group, as it always could on
 * a replay (ADR 0005, "Update: requests of different users at once").
 */
export class FrameRequestConsumer {
  private subscription: Subscription | undefined;

  constructor(
    private readonly options: {
      clusterName: string;
      service: ServiceName;
      /** Requests handled at once, of different users. Default 1 (one at a time). */
      concurrency?: number;
    },
    private readonly deps: { bus: EventBus; replies: DeliveryChannel; handler: FrameHandler; logger: Logger },
  ) {}

  async start(): Promise<void> {
    this.subscription = await subscribeTo(
      this.deps.bus,
      requestTopic(this.options.clusterName, this.options.service),
      CONSUMER_GROUPS.frameRequests(this.options.service),
      (request) => this.answer(request),
      () => {
        this.deps.logger.error({ service: this.options.service }, "dropped a malformed frame request");
      },
      { concurrency: this.options.concurrency ?? 1 },
    );
  }

  async stop(): Promise<void> {
    await this.subscription?.unsubscribe();
  }

  private async answer(request: FrameRequest): Promise<void> {
    // A request replayed after a crash, whose gateway gave up long ago: the client has
    // retried by now. Sends are idempotent, so skipping it loses nothing.
    const lateMs = Date.now() - request.deadline;
    if (lateMs > 0) {
      this.deps.logger.warn({ service: this.options.service, frameType: request.frame.type, lateMs }, "skipped a frame request whose deadline had passed");
      return;
    }
    let frame: ServerFrame;
    try {
      frame = await this.deps.handler.handle(request.session, request.frame);
    } catch (error) {
      if (!(error instanceof ProtocolError)) this.deps.logger.error({ err: error, frameType: request.frame.type }, "frame handler failed");
      frame = {
        type: "error",
        id: request.frame.id,
        code: error instanceof ProtocolError ? error.code : ErrorCode.internal,
        message: error instanceof ProtocolError ? error.message : "internal error: the request may not have been applied, retry it",
      };
    }
    const reply: FrameReply = { requestId: request.requestId, frame };
    await this.deps.replies.send(replyChannel(request.session.gatewayId), reply as unknown as JsonValue);
  }
}
