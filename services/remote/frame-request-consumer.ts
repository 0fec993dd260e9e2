import type { FrameHandler } from "../gateway/session.js";
import type { DeliveryChannel } from "../ports/delivery-channel.js";
import type { EventBus, JsonValue, Subscription } from "../ports/event-bus.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import type { ServerFrame } from "../protocol/frames.js";
import type { Logger } from "../platform/logger.js";
import { FrameRequest, type FrameReply } from "./frame-request.js";
import { replyChannel, requestTopic, type ServiceName } from "./service-names.js";

/**
 * A service process's side of the hand-over: consumes its request topic (one consumer
 * group per service, so replicas share the load) and answers each request on the
 * reply channel of the gateway that sent it.
 */
export class FrameRequestConsumer {
  private subscription: Subscription | undefined;

  constructor(
    private readonly options: { clusterName: string; service: ServiceName },
    private readonly deps: { bus: EventBus; replies: DeliveryChannel; handler: FrameHandler; logger: Logger },
  ) {}

  async start(): Promise<void> {
    this.subscription = await this.deps.bus.subscribe(requestTopic(this.options.clusterName, this.options.service), `service-${this.options.service}`, ({ value }) =>
      this.answer(value),
    );
  }

  async stop(): Promise<void> {
    await this.subscription?.unsubscribe();
  }

  private async answer(value: JsonValue): Promise<void> {
    const parsed = FrameRequest.safeParse(value);
    if (!parsed.success) {
      this.deps.logger.error({ service: this.options.service }, "dropped a malformed frame request");
      return;
    }
    const request = parsed.data;
    // A request replayed after a crash, whose gateway gave up long ago: the client has
    // retried by now. Sends are idempotent, so skipping it loses nothing.
    if (Date.now() > request.deadline) return;
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
