import { z } from "zod";
import type { Message } from "../protocol/frames.js";

/** What the group service publishes on a group's topic. Validated on receipt: it crossed a bus. */
export const GroupMessageEvent = z.object({
  message: z.custom<Message>(
    (value) => typeof value === "object" && value !== null && "groupId" in value && "seq" in value && "sentAt" in value,
  ),
});
export type GroupMessageEvent = z.infer<typeof GroupMessageEvent>;
