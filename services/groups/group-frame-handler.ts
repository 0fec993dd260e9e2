import type { FrameHandler } from "../ports/frame-handler.js";
import type { ServiceFrame, Session } from "../protocol/session.js";
import type { ClientFrameOf, ServerFrame } from "../protocol/frames.js";
import type { GroupService } from "./group-service.js";

export const GROUP_FRAME_TYPES = [
  "group.create",
  "group.add",
  "group.remove",
  "group.leave",
  "group.role",
  "group.info",
  "group.members",
  "group.list",
  "group.send",
] as const;
type GroupFrame = ClientFrameOf<(typeof GROUP_FRAME_TYPES)[number]>;

const DEFAULT_MEMBER_PAGE = 100;

/** Maps group frames to group service calls and their results to reply frames. */
export class GroupFrameHandler implements FrameHandler {
  constructor(private readonly groups: GroupService) {}

  async handle(session: Session, serviceFrame: ServiceFrame): Promise<ServerFrame> {
    const frame = serviceFrame as GroupFrame;
    const { userId } = session;
    switch (frame.type) {
      case "group.create":
        return { type: "group", id: frame.id, group: await this.groups.create(userId, frame.name, frame.members ?? []) };
      case "group.add":
        return { type: "group", id: frame.id, group: await this.groups.add(userId, frame.groupId, frame.members) };
      case "group.remove":
        return { type: "group", id: frame.id, group: await this.groups.remove(userId, frame.groupId, frame.members) };
      case "group.leave":
        await this.groups.leave(userId, frame.groupId);
        return { type: "ok", id: frame.id };
      case "group.role":
        return { type: "group", id: frame.id, group: await this.groups.setRole(userId, frame.groupId, frame.userId, frame.role) };
      case "group.info":
        return { type: "group", id: frame.id, group: await this.groups.info(userId, frame.groupId) };
      case "group.members": {
        const page = await this.groups.members(userId, frame.groupId, frame.after, frame.limit ?? DEFAULT_MEMBER_PAGE);
        return { type: "group.members.page", id: frame.id, groupId: frame.groupId, members: page.items, hasMore: page.hasMore };
      }
      case "group.list":
        return { type: "group.list", id: frame.id, groups: await this.groups.list(userId) };
      case "group.send": {
        const { message, duplicate } = await this.groups.send(session, frame.groupId, frame.clientMessageId, frame.body);
        return { type: "ack", id: frame.id, message, duplicate };
      }
    }
  }
}
