/**
 * Immutable objects under opaque keys (S3-compatible storage in production). Keys are
 * produced by Parley, never taken from clients, and must match BLOB_KEY_PATTERN.
 */
export interface BlobStore {
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** The object, or null when no object has that key. */
  get(key: string): Promise<StoredBlob | null>;
  has(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface StoredBlob {
  bytes: Uint8Array;
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
