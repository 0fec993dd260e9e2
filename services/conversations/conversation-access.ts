import type { GroupStore } from "../ports/group-store.js";
import { directParticipants, groupOfConversation, type ConversationId, type UserId } from "../protocol/ids.js";

/**
 * Who may read and write a conversation: the two participants of a direct conversation,
 * the current members of a group. Asked on every read and write, never cached, so a
 * removed member loses access at once.
 */
export class ConversationAccess {
  constructor(private readonly groups: GroupStore) {}

  async canAccess(userId: UserId, conversationId: ConversationId): Promise<boolean> {
    const groupId = groupOfConversation(conversationId);
    if (groupId !== null) return (await this.groups.roleOf(groupId, userId)) !== null;
    return directParticipants(conversationId)?.includes(userId) ?? false;
  }

  /** Everyone who takes part: both participants, or every group member. */
  async participants(conversationId: ConversationId): Promise<UserId[]> {
    const groupId = groupOfConversation(conversationId);
    if (groupId !== null) return (await this.groups.allMembers(groupId)).map((m) => m.userId);
    const pair = directParticipants(conversationId);
    return pair === null ? [] : [...new Set(pair)];
  }
}
