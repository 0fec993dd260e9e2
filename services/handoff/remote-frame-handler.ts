import { randomUUID } from "node:crypto";
import type { FrameHandler } from "../ports/frame-handler.js";
import type { ServiceFrame, Session } from "../protocol/session.js";
import type { DeliveryChannel } from "../ports/delivery-channel.js";
import { publishTo, type EventBus } from "../ports/event-bus.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import type { ServerFrame } from "../protocol/frames.js";
import type { Logger } from "../runtime/logger.js";
import { FrameReply, type FrameRequest } from "../events/frame-request.js";
import { FRAME_OWNERS } from "../events/service-names.js";
import { replyChannel, requestTopic } from "../events/topics.js";

/** A publish slower than this is logged: it eats into the client's and the service's time. */
export const SLOW_PUBLISH_MS = 1_000;

interface Pending {
  resolve: (frame: ServerFrame) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The gateway's hand-over when services run in their own processes: each frame goes on
 * the owning service's request topic (keyed by user, so one user's frames stay in
 * order), and the reply comes back on this gateway's reply channel. A request that gets
 * no answer in time fails with `unavailable`; retrying is safe, as sends are idempotent.
 */
export class RemoteFrameHandler implements FrameHandler {
  private readonly pending = new Map<string, Pending>();
  private listener: { stop(): Promise<void> } | undefined;

  constructor(
    private readonly options: { clusterName: string; gatewayId: string; timeoutMs: number },
    private readonly deps: {
      bus: EventBus;
      replies: DeliveryChannel;
      logger: Logger;
      /** Epoch ms, for the deadline a request carries. */
      now?: () => number;
    },
  ) {}

  async start(): Promise<void> {
    this.listener = await this.deps.replies.listen(replyChannel(this.options.gatewayId), (value) => {
      const reply = FrameReply.safeParse(value);
      if (!reply.success) {
        this.deps.logger.error("dropped a malformed frame reply");
        return;
      }
      const pending = this.pending.get(reply.data.requestId);
      if (!pending) return; // timed out already
      this.pending.delete(reply.data.requestId);
      clearTimeout(pending.timer);
      pending.resolve(reply.data.frame);
    });
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new ProtocolError(ErrorCode.unavailable, "gateway is shutting down: retry on another connection"));
    }
    this.pending.clear();
  }

  handle(session: Session, frame: ServiceFrame): Promise<ServerFrame> {
    const requestId = randomUUID();
    const request: FrameRequest = { requestId, session, frame, deadline: (this.deps.now ?? Date.now)() + this.options.timeoutMs };
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new ProtocolError(ErrorCode.unavailable, `the ${FRAME_OWNERS[frame.type]} service did not answer in time: retry`));
      }, this.options.timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
      const topic = requestTopic(this.options.clusterName, FRAME_OWNERS[frame.type]);
      const publishing = (this.deps.now ?? Date.now)();
      publishTo(this.deps.bus, topic, session.userId, request).then(() => {
        // A request that waited this long before Kafka took it reaches the service late,
        // after a client's own time limit perhaps: seen after broker restarts (docs/operations.md, Faults).
        const publishMs = (this.deps.now ?? Date.now)() - publishing;
        if (publishMs >= SLOW_PUBLISH_MS) this.deps.logger.warn({ topic: topic.name, frameType: frame.type, publishMs }, "slow frame request publish");
      }, (error: unknown) => {
        clearTimeout(timer);
        this.pending.delete(requestId);
        this.deps.logger.error({ err: error, topic: topic.name }, "could not publish a frame request");
        reject(new ProtocolError(ErrorCode.unavailable, "could not reach the service: retry"));
      });
    });
  }
}
