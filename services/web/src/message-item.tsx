import { useEffect, useState } from "preact/hooks";
import type { Message } from "../../sdk/index";
import type { ChatStore, Conversation, LocalAsset, PendingMessage } from "./store";
import { clock, percent } from "./format";

const TICKS = { sending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓" } as const;

export function MessageItem({ store, conversation, message }: { store: ChatStore; conversation: Conversation; message: Message }) {
  const mine = message.senderId === store.me;
  const tick = mine ? store.tick(conversation, message) : null;
  return (
    <li class={mine ? "message mine" : "message"} data-seq={message.seq}>
      {conversation.kind === "group" && !mine && <span class="sender">{message.senderId}</span>}
      {message.body.assets?.map((assetId) => <AssetView key={assetId} store={store} assetId={assetId} />)}
      {message.body.text !== undefined && <p class="text">{message.body.text}</p>}
      <span class="meta">
        <time dateTime={message.sentAt}>{clock(message.sentAt)}</time>
        {tick && (
          <span class={`tick ${tick}`} role="img" aria-label={tick}>
            {TICKS[tick]}
          </span>
        )}
      </span>
    </li>
  );
}

export function PendingItem({ pending }: { pending: PendingMessage }) {
  return (
    <li class="message mine pending">
      {pending.uploads.map((upload) => (
        <figure key={upload.previewUrl} class="asset">
          {upload.type.startsWith("image/") ? <img src={upload.previewUrl} alt={upload.name} /> : <span class="file">📄 {upload.name}</span>}
          {upload.sent < upload.total && !pending.error && <UploadProgress name={upload.name} sent={upload.sent} total={upload.total} />}
        </figure>
      ))}
      {pending.text !== "" && <p class="text">{pending.text}</p>}
      <span class="meta">
        {pending.error ? (
          <span role="alert" class="error">
            Not sent: {pending.error}
          </span>
        ) : (
          <span class="tick" role="img" aria-label="sending">
            {TICKS.sending}
          </span>
        )}
      </span>
    </li>
  );
}

/** Indeterminate until the first progress report (an upload over fetch reports only at its end). */
function UploadProgress({ name, sent, total }: { name: string; sent: number; total: number }) {
  if (sent === 0) return <progress aria-label={`Uploading ${name}`} />;
  return <progress max={total} value={sent} aria-label={`Uploading ${name}: ${percent(sent, total)}%`} />;
}

/** Links last minutes: one per asset and page is asked for when first shown. */
const links = new Map<string, Promise<LocalAsset>>();

function resolveAsset(store: ChatStore, assetId: string): Promise<LocalAsset> {
  const local = store.localAssets.get(assetId);
  if (local) return Promise.resolve(local);
  let link = links.get(assetId);
  if (!link) {
    link = (async () => {
      const { url } = await store.client.assets.link(assetId);
      // The type decides how to show it; HEAD tells it without the bytes.
      const head = await fetch(url, { method: "HEAD" });
      return { url, type: head.headers.get("content-type") ?? "application/octet-stream", name: assetId };
    })();
    links.set(assetId, link);
    link.catch(() => links.delete(assetId));
  }
  return link;
}

function AssetView({ store, assetId }: { store: ChatStore; assetId: string }) {
  const [asset, setAsset] = useState<LocalAsset | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let current = true;
    resolveAsset(store, assetId).then(
      (resolved) => {
        if (current) setAsset(resolved);
      },
      () => {
        if (current) setFailed(true);
      },
    );
    return () => {
      current = false;
    };
  }, [store, assetId]);
  if (failed) return <span class="file">📄 unavailable</span>;
  if (!asset) return <span class="file">📄 loading…</span>;
  if (asset.type.startsWith("image/")) {
    return (
      <a class="asset" href={asset.url} target="_blank" rel="noreferrer">
        <img src={asset.url} alt={`image ${asset.name}`} loading="lazy" />
      </a>
    );
  }
  if (asset.type.startsWith("video/")) return <video class="asset" src={asset.url} controls preload="metadata" />;
  if (asset.type.startsWith("audio/")) return <audio src={asset.url} controls preload="metadata" />;
  return (
    <a class="file" href={asset.url} download>
      📄 {asset.name} ({asset.type})
    </a>
  );
}
