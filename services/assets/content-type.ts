import { fileTypeFromBuffer } from "file-type";
import type { Config } from "../runtime/config.js";

/** Each kind of asset has its own size limit. */
export type AssetKind = "image" | "audio" | "video" | "document";

/** The content types Parley stores, and their kinds. Anything else is refused (415). */
export const ALLOWED_CONTENT_TYPES = {
  "image/jpeg": "image",
  "image/png": "image",
  "image/gif": "image",
  "image/webp": "image",
  "audio/mpeg": "audio",
  "audio/ogg": "audio",
  "audio/mp4": "audio",
  "video/mp4": "video",
  "video/webm": "video",
  "application/pdf": "document",
} as const satisfies Record<string, AssetKind>;

export type AllowedContentType = keyof typeof ALLOWED_CONTENT_TYPES;

/** File name extension for each allowed type (the download's Content-Disposition file name). */
export const EXTENSIONS: Record<AllowedContentType, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/gif": "gif",
  "image/webp": "webp",
  "audio/mpeg": "mp3",
  "audio/ogg": "ogg",
  "audio/mp4": "m4a",
  "video/mp4": "mp4",
  "video/webm": "webm",
  "application/pdf": "pdf",
};

/**
 * file-type names some allowed formats more precisely than Parley stores them: an
 * animated PNG is a valid PNG, Opus in Ogg is Ogg audio, an M4A file is MP4 audio.
 */
const ALIASES: Readonly<Record<string, AllowedContentType>> = {
  "image/apng": "image/png",
  "audio/ogg; codecs=opus": "audio/ogg",
  "audio/x-m4a": "audio/mp4",
};

export type AssetLimits = Record<AssetKind, number>;

export interface DetectedType {
  contentType: AllowedContentType;
  kind: AssetKind;
}

export type Detection =
  | ({ allowed: true } & DetectedType)
  /** `detected` is what file-type found (a MIME type), or null when it recognised nothing. */
  | { allowed: false; detected: string | null };

/**
 * The type of an upload, from its bytes alone (magic numbers and container headers via
 * file-type). The client's Content-Type header is never consulted.
 */
export async function detectContentType(bytes: Uint8Array): Promise<Detection> {
  if (bytes.byteLength === 0) return { allowed: false, detected: null };
  let found: Awaited<ReturnType<typeof fileTypeFromBuffer>>;
  try {
    found = await fileTypeFromBuffer(bytes);
  } catch {
    // Some parsers throw on a truncated or malformed container (a zip cut short, say):
    // bytes file-type cannot read are of no recognised type, not a server error.
    return { allowed: false, detected: null };
  }
  if (found === undefined) return { allowed: false, detected: null };
  const contentType = ALIASES[found.mime] ?? found.mime;
  if (!isAllowed(contentType)) return { allowed: false, detected: found.mime };
  return { allowed: true, contentType, kind: ALLOWED_CONTENT_TYPES[contentType] };
}

export function isAllowed(contentType: string): contentType is AllowedContentType {
  return Object.hasOwn(ALLOWED_CONTENT_TYPES, contentType);
}

export function assetLimitsFromConfig(
  config: Pick<Config, "assetMaxImageBytes" | "assetMaxAudioBytes" | "assetMaxVideoBytes" | "assetMaxDocumentBytes">,
): AssetLimits {
  return {
    image: config.assetMaxImageBytes,
    audio: config.assetMaxAudioBytes,
    video: config.assetMaxVideoBytes,
    document: config.assetMaxDocumentBytes,
  };
}

/** The largest upload of any kind: what a request body is checked against before its type is known. */
export function largestLimit(limits: AssetLimits): number {
  return Math.max(limits.image, limits.audio, limits.video, limits.document);
}
