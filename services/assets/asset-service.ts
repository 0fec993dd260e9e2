import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { monotonicFactory } from "ulid";
import type { AssetAttachments } from "../conversations/asset-attachments.js";
import type { ConversationAccess } from "../conversations/conversation-access.js";
import type { AssetRecord, AssetStore } from "../ports/asset-store.js";
import type { BlobReadStream, BlobStore, ByteRange } from "../ports/blob-store.js";
import { ErrorCode, ProtocolError } from "../protocol/errors.js";
import type { AssetId, ConversationId, UserId } from "../protocol/ids.js";
import { AssetLinkSigner, type LinkCheck } from "./asset-links.js";
import { detectContentType, largestLimit, type AssetKind, type AssetLimits } from "./content-type.js";

export interface AssetServiceDependencies {
  assets: AssetStore;
  blobs: BlobStore;
  access: Pick<ConversationAccess, "canAccess">;
  /** The JWT secret: download links are signed with a key derived from it. */
  secret: string;
  limits: AssetLimits;
  linkTtlSeconds: number;
  clock?: () => Date;
}

/** A signed download link for one user. */
export interface AssetLink {
  /** Path and query, relative to the server's base URL. */
  url: string;
  expiresAt: Date;
}

/** The bytes are of no allowed type (HTTP 415). */
export class UnsupportedContentTypeError extends Error {
  constructor(readonly detected: string | null) {
    super(
      detected === null
        ? "the upload is of no recognised type; allowed: JPEG, PNG, GIF, WebP, MP3, Ogg, M4A, MP4, WebM, PDF"
        : `uploads of type ${detected} are not allowed; allowed: JPEG, PNG, GIF, WebP, MP3, Ogg, M4A, MP4, WebM, PDF`,
    );
    this.name = "UnsupportedContentTypeError";
  }
}

/** The upload is larger than the limit of its kind, or than every limit (HTTP 413). */
export class AssetTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
    readonly kind: AssetKind | null,
  ) {
    super(
      kind === null
        ? `the upload has ${size} bytes; no asset may be larger than ${limit} bytes`
        : `the upload is ${kind === "image" ? "an" : "a"} ${kind} of ${size} bytes; the ${kind} limit is ${limit} bytes`,
    );
    this.name = "AssetTooLargeError";
  }
}

/** The body ended before, or ran past, the size the upload declared (HTTP 400). */
export class UploadLengthMismatchError extends Error {
  constructor(readonly declared: number) {
    super(`the body is not the ${declared} bytes its Content-Length said`);
    this.name = "UploadLengthMismatchError";
  }
}

/**
 * Bytes read before the type is detected: file-type's own sample size (it needs no more
 * than the head of a file, as its stream detection shows).
 */
const SNIFF_BYTES = 4100;

/**
 * Blob keys of uploads in progress: `<prefix>/<asset id>` holds the bytes until they are
 * hashed and moved to their content address. Only a process that died mid-upload leaves
 * anything here (the UploadSweeper removes it).
 */
export const UPLOADS_PREFIX = "uploads";

export type LinkRefusal = Exclude<LinkCheck, { ok: true }>["reason"] | "forbidden" | "not_found";

/** A download link that does not (or no longer does) open its asset. */
export class LinkRefusedError extends Error {
  constructor(readonly reason: LinkRefusal) {
    super(LINK_REFUSAL_MESSAGES[reason]);
    this.name = "LinkRefusedError";
  }
}

const LINK_REFUSAL_MESSAGES: Record<LinkRefusal, string> = {
  malformed: "the link is malformed: it needs user, expires and signature parameters",
  bad_signature: "the link's signature does not match",
  expired: "the link has expired; ask for a new one",
  forbidden: "the link's user may no longer read this asset",
  not_found: "no such asset",
};

/**
 * Uploaded images, audio, video and documents. The bytes are stored once per content
 * (blob key `sha256/<hex>`); each upload gets its own asset id, owned by the uploader.
 * An asset may be read by its owner and by everyone who can read a conversation it was
 * shared in, asked afresh on every check, so leaving a group ends access to its assets.
 */
export class AssetService implements AssetAttachments {
  readonly limits: AssetLimits;
  /** The largest upload of any kind. */
  readonly maxUploadBytes: number;
  private readonly clock: () => Date;
  private readonly signer: AssetLinkSigner;
  private readonly nextId = monotonicFactory();

  constructor(private readonly deps: AssetServiceDependencies) {
    this.limits = { ...deps.limits };
    this.maxUploadBytes = largestLimit(deps.limits);
    this.clock = deps.clock ?? (() => new Date());
    this.signer = new AssetLinkSigner(deps.secret);
  }

  /** Stores an upload held in memory: see uploadStream. */
  async upload(userId: UserId, bytes: Uint8Array): Promise<AssetRecord> {
    return this.uploadStream(userId, Readable.from([Buffer.from(bytes)]), bytes.byteLength);
  }

  /**
   * Stores an upload of `size` bytes as it streams in: detects the type from its head
   * (never trusting the client's), checks the limit of its kind before reading on, then
   * streams the bytes to a key of this upload alone while hashing them, and moves them to
   * their content address (`sha256/<hex>`) unless identical bytes are stored there already.
   * Records a new asset owned by `userId`. Memory stays at the head plus the stream
   * buffers, whatever the size.
   * Throws UnsupportedContentTypeError, AssetTooLargeError, UploadLengthMismatchError, or
   * the body's own error (the client went away).
   */
  async uploadStream(userId: UserId, body: Readable, size: number): Promise<AssetRecord> {
    if (size > this.maxUploadBytes) throw new AssetTooLargeError(size, this.maxUploadBytes, null);
    // One iterator for the head and the rest. Left unfinished on a refusal, not returned:
    // returning it would destroy an HTTP request, and the refusal with it.
    const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const head = await readHead(chunks, Math.min(SNIFF_BYTES, size));
    const detection = await detectContentType(head);
    if (!detection.allowed) throw new UnsupportedContentTypeError(detection.detected);
    const limit = this.limits[detection.kind];
    if (size > limit) throw new AssetTooLargeError(size, limit, detection.kind);

    const now = this.clock();
    const assetId: AssetId = `a${this.nextId(now.getTime())}`;
    const hash = createHash("sha256");
    const temporary = `${UPLOADS_PREFIX}/${assetId.toLowerCase()}`;
    try {
      await this.deps.blobs.putStream(temporary, Readable.from(measured(head, chunks, size, hash)), detection.contentType);
      const sha256 = hash.digest("hex");
      const key = blobKey(sha256);
      // Same bytes, same key: a concurrent upload of them moves identical bytes there, harmlessly.
      if (await this.deps.blobs.has(key)) await this.deps.blobs.delete(temporary);
      else await this.deps.blobs.move(temporary, key);
      const record: AssetRecord = { assetId, ownerId: userId, sha256, size, contentType: detection.contentType, createdAt: now };
      await this.deps.assets.create(record);
      return record;
    } catch (error) {
      await this.deps.blobs.delete(temporary).catch(() => undefined);
      throw error;
    }
  }

  /**
   * A sender may attach an asset they uploaded, or one they can already read (forwarding
   * from a conversation they are in). Throws not_found for the first asset that fails:
   * one the sender may not read is answered as if it did not exist, so asset ids cannot
   * be probed.
   */
  async checkAttachable(userId: UserId, assetIds: readonly AssetId[]): Promise<void> {
    for (const assetId of new Set(assetIds)) {
      const record = await this.deps.assets.get(assetId);
      if (record === null || !(await this.mayRead(userId, record))) throw noSuchAsset(assetId);
    }
  }

  async recordShare(assetIds: readonly AssetId[], conversationId: ConversationId): Promise<void> {
    await this.deps.assets.recordShare([...new Set(assetIds)], conversationId);
  }

  /** The owner, or anyone who can read a conversation the asset was shared in. */
  async canDownload(userId: UserId, assetId: AssetId): Promise<boolean> {
    const record = await this.deps.assets.get(assetId);
    return record !== null && (await this.mayRead(userId, record));
  }

  /**
   * A download link for `userId`, valid until `expiresAt` (default: now plus the link
   * TTL). Throws a ProtocolError not_found unless the user may download it: the same
   * answer as for a missing asset, so asset ids cannot be probed.
   */
  async createLink(userId: UserId, assetId: AssetId, expiresAt?: Date): Promise<AssetLink> {
    const record = await this.deps.assets.get(assetId);
    if (record === null || !(await this.mayRead(userId, record))) throw noSuchAsset(assetId);
    const expires = Math.floor((expiresAt ?? new Date(this.clock().getTime() + this.deps.linkTtlSeconds * 1000)).getTime() / 1000);
    const link = this.signer.sign({ assetId, userId, expires });
    return { url: this.signer.path(link), expiresAt: new Date(expires * 1000) };
  }

  /**
   * Opens a download link from its URL parts: checks the signature, then the expiry,
   * then that the link's user may still read the asset. Throws LinkRefusedError.
   */
  async openLink(raw: { assetId: string; user: string | null; expires: string | null; signature: string | null }): Promise<OpenedAsset> {
    const nowMs = this.clock().getTime();
    const check = this.signer.verify(raw, Math.floor(nowMs / 1000));
    if (!check.ok) throw new LinkRefusedError(check.reason);
    const { assetId, userId, expires } = check.claims;
    const record = await this.deps.assets.get(assetId);
    if (record === null) throw new LinkRefusedError("not_found");
    if (!(await this.mayRead(userId, record))) throw new LinkRefusedError("forbidden");
    return { record, userId, secondsLeft: Math.max(0, expires - Math.floor(nowMs / 1000)) };
  }

  /** A stream of an asset's bytes, or of `range` of them (within its size). */
  async read(record: AssetRecord, range?: ByteRange): Promise<BlobReadStream> {
    const blob = await this.deps.blobs.openRead(blobKey(record.sha256), range);
    if (blob === null) throw new Error(`asset ${record.assetId} has no stored bytes (blob ${blobKey(record.sha256)} is missing)`);
    return blob;
  }

  private async mayRead(userId: UserId, record: AssetRecord): Promise<boolean> {
    if (record.ownerId === userId) return true;
    for (const conversationId of await this.deps.assets.sharedIn(record.assetId)) {
      if (await this.deps.access.canAccess(userId, conversationId)) return true;
    }
    return false;
  }
}

export interface OpenedAsset {
  record: AssetRecord;
  /** The user the link was made for. */
  userId: UserId;
  /** Seconds until the link expires: how long the response may be cached. */
  secondsLeft: number;
}

/** Reads at least `want` bytes from the start of a body (fewer only if it ends first). */
async function readHead(chunks: AsyncIterator<Buffer>, want: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < want) {
    const next = await chunks.next();
    if (next.done === true) break;
    parts.push(next.value);
    have += next.value.byteLength;
  }
  return Buffer.concat(parts, have);
}

/**
 * The head, then the rest of the body, hashed as they pass; fails as soon as the body runs
 * past `size`, or ends short of it, so a mismatched upload is never stored.
 */
async function* measured(head: Buffer, rest: AsyncIterator<Buffer>, size: number, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  let received = 0;
  const pass = (chunk: Buffer): Buffer => {
    received += chunk.byteLength;
    if (received > size) throw new UploadLengthMismatchError(size);
    hash.update(chunk);
    return chunk;
  };
  if (head.byteLength > 0) yield pass(head);
  for (let next = await rest.next(); next.done !== true; next = await rest.next()) yield pass(next.value);
  if (received !== size) throw new UploadLengthMismatchError(size);
}

export function blobKey(sha256: string): string {
  return `sha256/${sha256}`;
}

/** One answer for an asset that is missing and for one the caller may not read. */
function noSuchAsset(assetId: AssetId): ProtocolError {
  return new ProtocolError(ErrorCode.notFound, `no asset ${assetId} that you may read`);
}
