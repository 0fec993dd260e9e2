import { useState } from "preact/hooks";
import type { ChatStore, Conversation } from "./store";
import { useStore } from "./use-store";
import { ConversationView } from "./conversation-view";
import { presenceText } from "./format";
import { field, names } from "./forms";

type Visibility = "everyone" | "contacts" | "nobody";

export function Messenger({ store, onSignOut }: { store: ChatStore; onSignOut: () => void }) {
  useStore(store);
  // The server's default until the user picks another (docs/protocol.md section 18).
  const [visibility, setVisibility] = useState<Visibility>("contacts");
  const open = store.openId === null ? undefined : store.conversations.get(store.openId);
  return (
    <div class="messenger" data-showing={open ? "conversation" : "list"}>
      <OfflineBanner store={store} />
      <aside class="sidebar">
        <header class="me">
          <strong>{store.me}</strong>
          <label>
            Last seen visible to{" "}
            <select
              value={visibility}
              onChange={(event) => {
                const chosen = event.currentTarget.value as Visibility;
                store.setLastSeenVisibility(chosen).then(
                  () => {
                    setVisibility(chosen);
                  },
                  () => {
                    // Offline: the select goes back to what the server has.
                    setVisibility(visibility);
                  },
                );
              }}
            >
              <option value="everyone">everyone</option>
              <option value="contacts">contacts</option>
              <option value="nobody">nobody</option>
            </select>
          </label>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </header>
        <NewConversation store={store} />
        <nav aria-label="Conversations">
          <ul class="conversations">
            {store.list().map((conversation) => (
              <ConversationItem key={conversation.id} store={store} conversation={conversation} selected={conversation.id === store.openId} />
            ))}
          </ul>
          {store.conversations.size === 0 && <p class="hint">No conversations yet: start one above.</p>}
        </nav>
      </aside>
      <main class="conversation">{open ? <ConversationView key={open.id} store={store} conversation={open} /> : <p class="hint">Pick a conversation, or start one.</p>}</main>
    </div>
  );
}

function OfflineBanner({ store }: { store: ChatStore }) {
  if (store.connection === "open" || store.connection === "idle") return null;
  const text =
    store.connection === "closed"
      ? "Disconnected. Reload the page to connect again."
      : store.synced
        ? "You are offline. Messages you write are sent when the connection is back."
        : "Connecting…";
  return (
    <p class="banner" role="status">
      {text}
    </p>
  );
}

function ConversationItem({ store, conversation, selected }: { store: ChatStore; conversation: Conversation; selected: boolean }) {
  const unread = store.unread(conversation);
  const last = conversation.messages.at(-1);
  const pending = conversation.pending.at(-1);
  const preview = pending ? pending.text || "📎 file" : last ? `${last.senderId === store.me ? "You: " : conversation.kind === "group" ? `${last.senderId}: ` : ""}${last.body.text ?? "📎 file"}` : "";
  const presence = conversation.peer ? store.presence.get(conversation.peer) : undefined;
  return (
    <li>
      <button type="button" class="conversation-item" aria-current={selected ? "true" : undefined} onClick={() => { store.open(conversation.id); }}>
        <span class="title">
          {conversation.peer && presence?.online != null && <span class={`dot ${presence.online ? "online" : "offline"}`} aria-label={presenceText(presence) ?? ""} role="img" />}
          <span class="name">{conversation.name}</span>
          {conversation.kind === "group" && <span class="tag">group</span>}
        </span>
        <span class="last">{store.typingIn(conversation.id).length > 0 ? "typing…" : preview}</span>
        {unread > 0 && (
          <span class="unread" aria-label={`${unread} unread`}>
            {unread}
          </span>
        )}
      </button>
    </li>
  );
}

function NewConversation({ store }: { store: ChatStore }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <section class="new" aria-label="New conversation">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const form = event.currentTarget;
          const user = field(form, "user");
          if (user === "") return;
          store.startDirect(user);
          form.reset();
        }}
      >
        <label for="new-chat">Chat with</label>
        <input id="new-chat" name="user" placeholder="a name" pattern="[A-Za-z0-9_.@\-]+" maxLength={64} />
        <button type="submit">Start</button>
      </form>
      <details>
        <summary>New group</summary>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            const form = event.currentTarget;
            const name = field(form, "name");
            const members = names(field(form, "members"));
            setError(null);
            store.createGroup(name, members).then(
              () => {
                form.reset();
                form.closest("details")?.removeAttribute("open");
              },
              (failure: unknown) => {
                setError(failure instanceof Error ? failure.message : String(failure));
              },
            );
          }}
        >
          <label for="group-name">Group name</label>
          <input id="group-name" name="name" required maxLength={100} />
          <label for="group-members">Members</label>
          <input id="group-members" name="members" placeholder="names, separated by commas" />
          <button type="submit">Create group</button>
          {error !== null && (
            <p role="alert" class="error">
              {error}
            </p>
          )}
        </form>
      </details>
    </section>
  );
}
