import type { GroupInfo, GroupRole, GroupSummary, Message, MessageBody } from "../protocol/frames.js";
import type { Requester } from "./replies.js";

/** Group helpers (docs/protocol.md section 20); reach them as `client.groups`. */
export class GroupsApi {
  constructor(
    private readonly request: Requester,
    private readonly post: (groupId: string, body: MessageBody | string, options?: { clientMessageId?: string }) => Promise<Message>,
  ) {}

  /** Creates a group owned by you, with `members` added. */
  async create(name: string, members: string[] = []): Promise<GroupInfo> {
    return (await this.request({ type: "group.create", name, members })).group;
  }

  async add(groupId: string, members: string[]): Promise<GroupInfo> {
    return (await this.request({ type: "group.add", groupId, members })).group;
  }

  async remove(groupId: string, members: string[]): Promise<GroupInfo> {
    return (await this.request({ type: "group.remove", groupId, members })).group;
  }

  async leave(groupId: string): Promise<void> {
    await this.request({ type: "group.leave", groupId });
  }

  async setRole(groupId: string, userId: string, role: GroupRole): Promise<GroupInfo> {
    return (await this.request({ type: "group.role", groupId, userId, role })).group;
  }

  async info(groupId: string): Promise<GroupInfo> {
    return (await this.request({ type: "group.info", groupId })).group;
  }

  /** One page of members, ordered by user id; pass the last `userId` as `after` for the next. */
  async members(groupId: string, page: { after?: string; limit?: number } = {}): Promise<{ members: { userId: string; role: GroupRole }[]; hasMore: boolean }> {
    const reply = await this.request({ type: "group.members", groupId, ...page });
    return { members: reply.members, hasMore: reply.hasMore };
  }

  /** Your groups with their last seq, your read mark and unread count. */
  async list(): Promise<GroupSummary[]> {
    return (await this.request({ type: "group.list" })).groups;
  }

  /** Posts to a group through the outbox (retried with the same clientMessageId until stored). */
  send(groupId: string, body: MessageBody | string, options: { clientMessageId?: string } = {}): Promise<Message> {
    return this.post(groupId, body, options);
  }
}
