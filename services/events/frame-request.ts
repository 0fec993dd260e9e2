import { z } from "zod";
import type { ServerFrame } from "../protocol/frames.js";
import type { ServiceFrame, Session } from "../protocol/session.js";

/** A client frame on its way from a gateway to the service that owns it. */
export const FrameRequest = z.object({
  requestId: z.string(),
  session: z.object({ userId: z.string(), deviceId: z.string(), connectionId: z.string(), gatewayId: z.string() }),
  frame: z.custom<ServiceFrame>((value) => typeof value === "object" && value !== null && "type" in value && "id" in value),
  /** Epoch ms after which the gateway has given up; a later answer is pointless. */
  deadline: z.number(),
});
export type FrameRequest = z.infer<typeof FrameRequest> & { session: Session };

/** The service's answer, sent back on the gateway's reply channel. */
export const FrameReply = z.object({
  requestId: z.string(),
  frame: z.custom<ServerFrame>((value) => typeof value === "object" && value !== null && "type" in value),
});
export type FrameReply = z.infer<typeof FrameReply>;
