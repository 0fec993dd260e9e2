import type { Readable } from "node:stream";

/**
 * Immutable objects under opaque keys (S3-compatible storage in production). Keys are
 * produced by Parley, never taken from clients, and must match BLOB_KEY_PATTERN.
 *
 * Large objects go through the streaming methods (putStream, openRead): they hold no more
 * than a bounded buffer per transfer, however large the object. put and get hold the
 * whole object in memory and are for small ones.
 */
export interface BlobStore {
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** The object, or null when no object has that key. */
  get(key: string): Promise<StoredBlob | null>;
  /**
   * Stores what `source` yields, reading it only as fast as the store writes (a failing
   * source rejects the put and stores nothing under `key`). Readers see the old object or
   * the whole new one, never part of it.
   */
  putStream(key: string, source: Readable, contentType: string): Promise<void>;
  /**
   * A stream of the object, or of `range` of it (first and last byte, inclusive, within
   * the object), with the object's size and type; null when no object has that key. The
   * caller must consume or destroy the stream.
   */
  openRead(key: string, range?: ByteRange): Promise<BlobReadStream | null>;
  /** Renames the object at `from` to `to`, replacing any object there. `from` must exist. */
  move(from: string, to: string): Promise<void>;
  has(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /**
   * Deletes every object whose key starts with `prefix/` and was last written before
   * `before`, with whatever a write under that prefix left behind when its process died
   * before `before` (an unfinished S3 multipart upload, a temporary file). Returns how many
   * objects and leftovers it removed. For keys only their writer uses, such as uploads in
   * progress: an object written again meanwhile may go too.
   */
  removeStale(prefix: string, before: Date): Promise<number>;
  close(): Promise<void>;
}

export interface StoredBlob {
  bytes: Uint8Array;
  contentType: string;
}

/** Bytes `start` to `end` of an object, both inclusive (as HTTP ranges count). */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobReadStream {
  stream: Readable;
  /** The size of the whole object, whatever range was asked for. */
  size: number;
  contentType: string;
}

/** Lower-case segments of [a-z0-9_-] joined by single slashes: no dots, no empty segments. */
export const BLOB_KEY_PATTERN = /^[a-z0-9_-]{1,128}(\/[a-z0-9_-]{1,128}){0,7}$/;

export class InvalidBlobKeyError extends Error {
  constructor(readonly key: string) {
    super(`invalid blob key ${JSON.stringify(key)}: keys must match ${String(BLOB_KEY_PATTERN)}`);
    this.name = "InvalidBlobKeyError";
  }
}

export function assertBlobKey(key: string): void {
  if (!BLOB_KEY_PATTERN.test(key)) throw new InvalidBlobKeyError(key);
}

/** Refuses a range that is not within an object of `size` bytes. */
export function assertRangeWithin(range: ByteRange, size: number, key: string): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end >= size) {
    throw new RangeError(`bytes ${start}-${end} are not within ${key} (${size} bytes)`);
  }
}
