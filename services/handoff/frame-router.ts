import type { FrameHandler } from "../ports/frame-handler.js";
import type { ServiceFrame, ServiceFrameType, Session } from "../protocol/session.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import type { ServerFrame } from "../protocol/frames.js";

export type FrameRoutes = { readonly [T in ServiceFrameType]?: FrameHandler };

/** Sends each frame type to the service that owns it; a type no service owns gets `unavailable`. */
export class FrameRouter implements FrameHandler {
  constructor(private readonly routes: FrameRoutes) {}

  handle(session: Session, frame: ServiceFrame): Promise<ServerFrame> {
    const handler = this.routes[frame.type];
    if (!handler) return Promise.reject(new ProtocolError(ErrorCode.unavailable, `${frame.type} is not served here`));
    return handler.handle(session, frame);
  }
}
