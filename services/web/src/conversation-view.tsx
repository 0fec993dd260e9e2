import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { ChatStore, Conversation } from "./store";
import { presenceText } from "./format";
import { MessageItem, PendingItem } from "./message-item";
import { GroupPanel } from "./group-panel";

const PAGE = 50;

export function ConversationView({ store, conversation }: { store: ChatStore; conversation: Conversation }) {
  const [showMembers, setShowMembers] = useState(false);
  const typing = store.typingIn(conversation.id);
  const status =
    conversation.kind === "group"
      ? conversation.removed
        ? "you are no longer a member"
        : (conversation.role ?? "")
      : conversation.peer === store.me
        ? "notes to self"
        : presenceText(store.presence.get(conversation.peer ?? ""));
  return (
    <section class="chat" aria-label={`Conversation with ${conversation.name}`}>
      <header class="chat-header">
        <button type="button" class="back" aria-label="Back to conversations" onClick={() => { store.open(null); }}>
          ←
        </button>
        <div>
          <h2>{conversation.name}</h2>
          {status && <p class="status">{status}</p>}
        </div>
        {conversation.kind === "group" && !conversation.removed && (
          <button type="button" aria-expanded={showMembers} onClick={() => { setShowMembers(!showMembers); }}>
            Members
          </button>
        )}
      </header>
      <div class="chat-body">
        <MessageList store={store} conversation={conversation} />
        {showMembers && conversation.groupId && <GroupPanel store={store} conversation={conversation} groupId={conversation.groupId} />}
      </div>
      <p class="typing" aria-live="polite">
        {typing.length > 0 ? `${typing.join(", ")} ${typing.length === 1 ? "is" : "are"} typing…` : ""}
      </p>
      {conversation.removed ? <p class="hint">You can no longer write here.</p> : <Composer store={store} conversation={conversation} />}
    </section>
  );
}

/** The newest messages, and older ones page by page as the list is scrolled to its top. */
function MessageList({ store, conversation }: { store: ChatStore; conversation: Conversation }) {
  const [visible, setVisible] = useState(PAGE);
  const [loading, setLoading] = useState(false);
  const list = useRef<HTMLDivElement>(null);
  const top = useRef<HTMLLIElement>(null);
  const atBottom = useRef(true);
  /** Distance from the bottom to keep while older messages are put above. */
  const keepFromBottom = useRef<number | null>(null);
  const { messages } = conversation;
  const shown = messages.slice(-visible);
  const more = visible < messages.length || (messages[0]?.seq ?? 1) > 1;

  useLayoutEffect(() => {
    const element = list.current;
    if (!element) return;
    if (keepFromBottom.current !== null) element.scrollTop = element.scrollHeight - keepFromBottom.current;
    else if (atBottom.current) element.scrollTop = element.scrollHeight;
    keepFromBottom.current = null;
  });

  useEffect(() => {
    const element = list.current;
    const sentinel = top.current;
    if (!element || !sentinel || !more || loading) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (!entries.some((entry) => entry.isIntersecting)) return;
        observer.disconnect();
        keepFromBottom.current = element.scrollHeight - element.scrollTop;
        if (visible < messages.length) {
          setVisible(visible + PAGE);
          return;
        }
        setLoading(true);
        store
          .loadOlder(conversation.id)
          .catch(() => false)
          .finally(() => {
            setVisible(visible + PAGE);
            setLoading(false);
          });
      },
      { root: element },
    );
    observer.observe(sentinel);
    return () => { observer.disconnect(); };
  }, [store, conversation.id, visible, messages.length, more, loading]);

  return (
    <div
      class="messages"
      ref={list}
      role="log"
      aria-label="Messages"
      tabIndex={0}
      onScroll={(event) => {
        const element = event.currentTarget;
        atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 40;
      }}
    >
      <ol>
      {more && (
        <li ref={top} class="older">
          {loading ? "Loading older messages…" : "Scroll up for older messages"}
        </li>
      )}
      {shown.map((message) => (
        <MessageItem key={message.seq} store={store} conversation={conversation} message={message} />
      ))}
      {conversation.pending.map((pending) => (
        <PendingItem key={pending.clientMessageId} pending={pending} />
      ))}
      </ol>
    </div>
  );
}

function Composer({ store, conversation }: { store: ChatStore; conversation: Conversation }) {
  const [text, setText] = useState("");
  const [files, setFiles] = useState<File[]>([]);
  const input = useRef<HTMLTextAreaElement>(null);

  function submit(): void {
    const trimmed = text.trim();
    if (trimmed === "" && files.length === 0) return;
    void store.send(conversation.id, trimmed, files);
    setText("");
    setFiles([]);
    input.current?.focus();
  }

  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      {files.length > 0 && (
        <ul class="attachments" aria-label="Files to send">
          {files.map((file, index) => (
            <li key={`${file.name}-${index}`}>
              {file.name}
              <button type="button" aria-label={`Remove ${file.name}`} onClick={() => { setFiles(files.filter((_, i) => i !== index)); }}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <label class="attach" title="Attach images or files">
        📎<span class="visually-hidden">Attach files</span>
        <input
          type="file"
          multiple
          accept="image/*,video/mp4,video/webm,audio/*,application/pdf"
          onChange={(event) => {
            const chosen = [...(event.currentTarget.files ?? [])];
            setFiles([...files, ...chosen].slice(0, 10));
            event.currentTarget.value = "";
          }}
        />
      </label>
      <label for="message" class="visually-hidden">
        Message
      </label>
      <textarea
        id="message"
        ref={input}
        rows={1}
        maxLength={4096}
        placeholder="Write a message"
        value={text}
        onInput={(event) => {
          setText(event.currentTarget.value);
          store.typed(conversation.id);
        }}
        onKeyDown={(event) => {
          if (event.key === "Enter" && !event.shiftKey) {
            event.preventDefault();
            submit();
          }
        }}
      />
      <button type="submit">Send</button>
    </form>
  );
}
