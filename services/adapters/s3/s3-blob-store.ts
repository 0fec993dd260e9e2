import { Agent as HttpAgent, IncomingMessage } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Readable } from "node:stream";
import { Client, IamAwsProvider, S3Error, type BucketItem, type IncompleteUploadedBucketItem } from "minio";
import { assertBlobKey, assertRangeWithin, type BlobReadStream, type BlobStore, type ByteRange, type StoredBlob } from "../../ports/blob-store.js";

/** What minio's listing of incomplete uploads yields: its type leaves out `initiated`, which it parses. */
type IncompleteUpload = IncompleteUploadedBucketItem & { initiated: Date };

/** Where and how to reach the S3-compatible server, and which bucket holds the blobs. */
export interface S3BlobStoreOptions {
  /** The server's base URL, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:28080`. */
  endPoint: string;
  /**
   * Static keys, both or neither. Neither: the client signs with the pod's own AWS identity,
   * fetched and renewed by minio's IamAwsProvider: a web identity token
   * (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, as IAM roles for service accounts set them),
   * the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI,
   * with AWS_CONTAINER_AUTHORIZATION_TOKEN) or the EC2 instance metadata service.
   */
  accessKey?: string;
  secretKey?: string;
  /** The region requests are signed for (S3Proxy and most local servers: `us-east-1`). */
  region: string;
  /** Created on start when missing. */
  bucket: string;
  /**
   * `true` (the default): `<endPoint>/<bucket>/<key>`, which every local server (S3Proxy,
   * Ceph RGW, SeaweedFS) understands. `false`: `<bucket>.<host>/<key>`. Amazon's own
   * endpoints are always addressed virtual-host style by the client.
   */
  pathStyle?: boolean;
  /** The time presigned URLs and upload policies count their expiry from. */
  clock?: () => Date;
}

/** What a browser posts to upload one object without credentials (an S3 POST policy). */
export interface PresignedPost {
  /** The form's action: the bucket's URL. */
  url: string;
  /** Form fields to send as they are, before the `file` field. */
  fields: Record<string, string>;
  expiresAt: Date;
}

export interface PresignedPostConditions {
  /** The exact Content-Type the upload must declare; it becomes the object's type. */
  contentType: string;
  /** The largest upload accepted, in bytes. */
  maxBytes: number;
  /** The smallest upload accepted, in bytes (default 0). */
  minBytes?: number;
}

/**
 * Appended to a blob key to name its object. Filesystem-backed S3 servers (S3Proxy's
 * `filesystem` and `transient` back ends, MinIO) store object `a` as a file, so they cannot
 * also store `a/b` (a file inside it), which S3 allows and the BlobStore contract requires.
 * Blob keys have no dots, so `a.blob` (a file) and `a/b.blob` (inside directory `a`) never
 * clash, and the mapping stays one-to-one and keeps key prefixes listable.
 */
export const BLOB_OBJECT_SUFFIX = ".blob";

/** The S3 object name of a blob key (validated). */
export function objectNameOf(key: string): string {
  assertBlobKey(key);
  return key + BLOB_OBJECT_SUFFIX;
}

/** Presigned URLs live at most seven days: the limit of AWS signature version 4. */
export const MAX_PRESIGN_TTL_SECONDS = 7 * 24 * 3600;

/** The S3 client for `options`, with its own keep-alive connection pool. */
export function createS3Client(options: Omit<S3BlobStoreOptions, "bucket" | "clock">): { client: Client; agent: HttpAgent } {
  const url = new URL(options.endPoint);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`S3 endpoint must be an http(s) URL: ${options.endPoint}`);
  if (url.pathname !== "/" || url.search !== "" || url.username !== "") {
    throw new Error(`S3 endpoint must be a bare scheme://host[:port] URL: ${options.endPoint}`);
  }
  if ((options.accessKey === undefined) !== (options.secretKey === undefined)) {
    throw new Error("S3 credentials: give both the access key and the secret key, or neither (to use the pod's AWS identity)");
  }
  const useSSL = url.protocol === "https:";
  const agent = useSSL ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const client = new Client({
    // URL keeps IPv6 hosts in brackets; the client wants the bare address.
    endPoint: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? (useSSL ? 443 : 80) : Number(url.port),
    useSSL,
    ...(options.accessKey !== undefined && options.secretKey !== undefined
      ? { accessKey: options.accessKey, secretKey: options.secretKey }
      : { credentialsProvider: new IamAwsProvider({}) }),
    region: options.region,
    pathStyle: options.pathStyle ?? true,
    transportAgent: agent,
  });
  return { client, agent };
}

/**
 * Creates `bucket` in `region` unless it exists. Safe to call from several processes at
 * once: losing the race to create it counts as success when the bucket is ours.
 */
export async function ensureBucket(client: Client, bucket: string, region: string): Promise<void> {
  if (await client.bucketExists(bucket)) return;
  try {
    await client.makeBucket(bucket, region);
  } catch (error) {
    if (error instanceof S3Error && error.code === "BucketAlreadyOwnedByYou") return;
    throw error;
  }
}

/**
 * The production blob store: one S3 object per blob, named `<key>.blob` (see
 * BLOB_OBJECT_SUFFIX), with the content type as the object's Content-Type. A single PUT replaces an object atomically
 * (readers see the old or the new object, never a mix), and one GET returns bytes and type
 * together. S3 and S3Proxy give read-after-write consistency for PUT and DELETE.
 */
export class S3BlobStore implements BlobStore {
  private constructor(
    private readonly client: Client,
    private readonly agent: HttpAgent,
    private readonly bucket: string,
    private readonly clock: () => Date,
  ) {}

  /** Connects and creates the bucket when it is missing. */
  static async open(options: S3BlobStoreOptions): Promise<S3BlobStore> {
    const { client, agent } = createS3Client(options);
    try {
      await ensureBucket(client, options.bucket, options.region);
    } catch (error) {
      agent.destroy();
      throw error;
    }
    return new S3BlobStore(client, agent, options.bucket, options.clock ?? (() => new Date()));
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    const name = objectNameOf(key);
    // Buffer.from copies, so the caller may change its bytes once put has been called.
    const body = Buffer.from(bytes);
    await this.client.putObject(this.bucket, name, body, body.byteLength, { "Content-Type": contentType });
  }

  /**
   * Objects up to PART_BYTES go up in one PUT; larger ones as a multipart upload of
   * PART_BYTES parts sent one at a time, so a transfer holds at most two parts in memory
   * (the first two are read to choose between the two ways) and reads its source no faster
   * than S3 takes it. (minio's putObject with a stream
   * would buffer up to sixteen parts ahead, and never settles when its source fails.) A
   * failed multipart upload is aborted, so S3 keeps no parts of it.
   */
  async putStream(key: string, source: Readable, contentType: string): Promise<void> {
    const name = objectNameOf(key);
    const headers = { "Content-Type": contentType };
    const parts = chunksOf(source, PART_BYTES);
    const first = await parts.next();
    const second = first.done === true ? first : await parts.next();
    if (second.done === true) {
      const body = first.done === true ? Buffer.alloc(0) : first.value;
      await this.client.putObject(this.bucket, name, body, body.byteLength, headers);
      return;
    }
    const uploadId = await this.client.initiateNewMultipartUpload(this.bucket, name, headers);
    try {
      const etags: { part: number; etag: string }[] = [];
      const send = async (part: Buffer): Promise<void> => {
        const partNumber = etags.length + 1;
        const headers = { "Content-Length": part.byteLength };
        const { etag } = await this.client.uploadPart({ bucketName: this.bucket, objectName: name, uploadID: uploadId, partNumber, headers }, part);
        etags.push({ part: partNumber, etag });
      };
      if (first.done !== true) await send(first.value);
      await send(second.value);
      for await (const part of parts) await send(part);
      await this.client.completeMultipartUpload(this.bucket, name, uploadId, etags);
    } catch (error) {
      source.destroy();
      await this.client.abortMultipartUpload(this.bucket, name, uploadId).catch(() => undefined);
      throw error;
    }
  }

  async openRead(key: string, range?: ByteRange): Promise<BlobReadStream | null> {
    const name = objectNameOf(key);
    if (range) assertRangeWithin(range, Number.MAX_SAFE_INTEGER, key);
    let response: Readable;
    try {
      response = range
        ? await this.client.getPartialObject(this.bucket, name, range.start, range.end - range.start + 1)
        : await this.client.getObject(this.bucket, name);
    } catch (error) {
      if (isMissingObject(error)) return null;
      // S3 answers 416 InvalidRange for a range that starts past the end.
      if (range && error instanceof S3Error && error.code === "InvalidRange") throw new RangeError(`bytes ${range.start}-${range.end} are not within ${key}`, { cause: error });
      throw error;
    }
    const headers = response instanceof IncomingMessage ? response.headers : {};
    const contentType = headers["content-type"];
    // A partial answer names the whole size after the slash of Content-Range.
    const total = range ? /\/(\d+)$/.exec(headers["content-range"] ?? "")?.[1] : headers["content-length"];
    if (contentType === undefined || total === undefined) {
      response.destroy();
      throw new Error(`S3 returned ${name} without a Content-Type or size`);
    }
    const size = Number(total);
    if (range && range.end >= size) {
      // S3 shortens a range that runs past the end; the port refuses it instead.
      response.destroy();
      assertRangeWithin(range, size, key);
    }
    return { stream: response, size, contentType };
  }

  async move(from: string, to: string): Promise<void> {
    const source = objectNameOf(from);
    const target = objectNameOf(to);
    // S3 has no rename: a server-side copy (type included), then the source goes.
    await this.client.copyObject(this.bucket, target, `/${this.bucket}/${source}`);
    await this.client.removeObject(this.bucket, source);
  }

  async get(key: string): Promise<StoredBlob | null> {
    const name = objectNameOf(key);
    let response: Readable;
    try {
      response = await this.client.getObject(this.bucket, name);
    } catch (error) {
      if (isMissingObject(error)) return null;
      throw error;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    // The client hands back the HTTP response itself: bytes and type come from one GET, so
    // a concurrent replacement can never pair new bytes with an old type.
    const contentType = response instanceof IncomingMessage ? response.headers["content-type"] : undefined;
    if (contentType === undefined) throw new Error(`S3 returned ${name} without a Content-Type`);
    const bytes = Buffer.concat(chunks);
    return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), contentType };
  }

  async has(key: string): Promise<boolean> {
    const name = objectNameOf(key);
    try {
      await this.client.statObject(this.bucket, name);
      return true;
    } catch (error) {
      if (isMissingObject(error)) return false;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const name = objectNameOf(key);
    // S3 answers 204 whether or not the object existed.
    await this.client.removeObject(this.bucket, name);
  }

  /**
   * Objects listed under the prefix with a LastModified before `before`, and multipart
   * uploads under it initiated before then (aborted: S3 keeps and bills their parts until
   * then). Where the server supports lifecycle rules a rule does the same (docs/operations.md);
   * S3Proxy answers NotImplemented to them, so the assets service sweeps with this.
   */
  async removeStale(prefix: string, before: Date): Promise<number> {
    assertBlobKey(prefix);
    const under = `${prefix}/`;
    const stale: string[] = [];
    for await (const item of this.client.listObjectsV2(this.bucket, under, true) as AsyncIterable<BucketItem>) {
      if (item.name?.endsWith(BLOB_OBJECT_SUFFIX) === true && item.lastModified !== undefined && item.lastModified < before) stale.push(item.name);
    }
    if (stale.length > 0) await this.client.removeObjects(this.bucket, stale);
    let aborted = 0;
    for await (const upload of this.client.listIncompleteUploads(this.bucket, under, true) as AsyncIterable<IncompleteUpload>) {
      if (upload.initiated >= before) continue;
      try {
        await this.client.abortMultipartUpload(this.bucket, upload.key, upload.uploadId);
        aborted += 1;
      } catch (error) {
        // Finished or aborted meanwhile (by its writer, or another replica's sweep).
        if (!(error instanceof S3Error && error.code === "NoSuchUpload")) throw error;
      }
    }
    return stale.length + aborted;
  }

  /** A URL that fetches the object with a plain GET, without credentials, for `ttlSeconds`. */
  async presignedGetUrl(key: string, ttlSeconds: number): Promise<string> {
    const name = objectNameOf(key);
    assertTtl(ttlSeconds);
    return this.client.presignedUrl("GET", this.bucket, name, ttlSeconds, {}, this.clock());
  }

  /**
   * A URL that stores the body of a plain PUT under `key` for `ttlSeconds`. It does not
   * limit size or type (the uploader's Content-Type header becomes the object's): use
   * presignedPost for uploads from untrusted clients.
   */
  async presignedPutUrl(key: string, ttlSeconds: number): Promise<string> {
    const name = objectNameOf(key);
    assertTtl(ttlSeconds);
    return this.client.presignedUrl("PUT", this.bucket, name, ttlSeconds, {}, this.clock());
  }

  /**
   * A form upload (browser POST, multipart/form-data) of exactly `key`, accepted only with
   * the given Content-Type and a size within the range, for `ttlSeconds`. The server
   * enforces the conditions; S3Proxy does from version 4.
   */
  async presignedPost(key: string, ttlSeconds: number, conditions: PresignedPostConditions): Promise<PresignedPost> {
    const name = objectNameOf(key);
    assertTtl(ttlSeconds);
    const { contentType, maxBytes, minBytes = 0 } = conditions;
    if (!Number.isSafeInteger(minBytes) || !Number.isSafeInteger(maxBytes) || minBytes < 0 || maxBytes < minBytes) {
      throw new RangeError(`invalid size range ${minBytes}..${maxBytes}`);
    }
    const expiresAt = new Date(this.clock().getTime() + ttlSeconds * 1000);
    const policy = this.client.newPostPolicy();
    policy.setBucket(this.bucket);
    policy.setKey(name);
    policy.setContentType(contentType);
    policy.setContentLengthRange(minBytes, maxBytes);
    policy.setExpires(expiresAt);
    const { postURL, formData } = await this.client.presignedPostPolicy(policy);
    const fields: Record<string, string> = {};
    for (const [name, value] of Object.entries(formData)) fields[name] = String(value);
    return { url: postURL, fields, expiresAt };
  }

  close(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }
}

/**
 * The size of each part of a multipart upload: S3's smallest (every part but the last must
 * have at least 5 MiB), which is also the most a transfer buffers.
 */
const PART_BYTES = 5 * 1024 * 1024;

/** The bytes of `source` in buffers of `size` bytes (the last one shorter), read as they are needed. */
async function* chunksOf(source: Readable, size: number): AsyncGenerator<Buffer, void, undefined> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of source) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    pending.push(bytes);
    pendingBytes += bytes.byteLength;
    while (pendingBytes >= size) {
      const joined = Buffer.concat(pending, pendingBytes);
      yield joined.subarray(0, size);
      // A copy of the remainder: a view would keep the whole joined buffer alive.
      pending = [Buffer.from(joined.subarray(size))];
      pendingBytes -= size;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

function assertTtl(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_PRESIGN_TTL_SECONDS) {
    throw new RangeError(`ttlSeconds must be a whole number from 1 to ${MAX_PRESIGN_TTL_SECONDS}, not ${ttlSeconds}`);
  }
}

/** GET answers NoSuchKey with an XML body; HEAD has no body, so the client says NotFound. */
function isMissingObject(error: unknown): boolean {
  return error instanceof S3Error && (error.code === "NoSuchKey" || error.code === "NotFound");
}
