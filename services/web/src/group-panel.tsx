import { useEffect, useState } from "preact/hooks";
import type { GroupRole } from "../../sdk/index";
import type { ChatStore, Conversation } from "./store";
import { presenceText } from "./format";
import { field, names } from "./forms";

type Member = { userId: string; role: GroupRole };

/** Who may remove whom (docs/protocol.md section 20): the owner anyone but themselves, an admin plain members. */
function mayRemove(myRole: GroupRole | null, member: Member, me: string): boolean {
  if (member.userId === me) return false;
  return myRole === "owner" || (myRole === "admin" && member.role === "member");
}

export function GroupPanel({ store, conversation, groupId }: { store: ChatStore; conversation: Conversation; groupId: string }) {
  const [members, setMembers] = useState<Member[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const myRole = conversation.role;

  function run(action: () => Promise<unknown>): void {
    setError(null);
    action()
      .then(() => store.members(groupId))
      .then((list) => {
        setMembers(list);
        store.watch(list.map((member) => member.userId));
      })
      .catch((failure: unknown) => {
        setError(failure instanceof Error ? failure.message : String(failure));
      });
  }

  useEffect(() => {
    run(() => Promise.resolve());
  }, [groupId, myRole]);

  return (
    <aside class="group-panel" aria-label="Members">
      <h3>Members{members ? ` (${members.length})` : ""}</h3>
      <ul>
        {members?.map((member) => (
          <li key={member.userId}>
            <span class="name">{member.userId === store.me ? `${member.userId} (you)` : member.userId}</span>
            <span class="status">{presenceText(store.presence.get(member.userId)) ?? ""}</span>
            {myRole === "owner" && member.userId !== store.me ? (
              <select
                aria-label={`Role of ${member.userId}`}
                value={member.role}
                onChange={(event) => {
                  const role = event.currentTarget.value as GroupRole;
                  run(() => store.setRole(groupId, member.userId, role));
                }}
              >
                <option value="member">member</option>
                <option value="admin">admin</option>
                <option value="owner">owner</option>
              </select>
            ) : (
              <span class="tag">{member.role}</span>
            )}
            {mayRemove(myRole, member, store.me) && (
              <button type="button" aria-label={`Remove ${member.userId}`} onClick={() => { run(() => store.removeMember(groupId, member.userId)); }}>
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {(myRole === "owner" || myRole === "admin") && (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            const form = event.currentTarget;
            const added = names(field(form, "add"));
            if (added.length === 0) return;
            form.reset();
            run(() => store.addMembers(groupId, added));
          }}
        >
          <label for="add-member">Add members</label>
          <input id="add-member" name="add" placeholder="names, separated by commas" />
          <button type="submit">Add</button>
        </form>
      )}
      <button type="button" onClick={() => { run(() => store.leave(groupId)); }}>
        Leave group
      </button>
      {error !== null && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </aside>
  );
}
