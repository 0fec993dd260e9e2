import type { ErrorCode } from "../protocol/errors.js";

/**
 * Why a request failed: an `error` frame's code (docs/protocol.md section 8), or `timeout`
 * (no reply within `requestTimeoutMs`) or `closed` (the connection ended before the reply).
 */
export type ParleyErrorCode = ErrorCode | "timeout" | "closed" | "http";

export class ParleyError extends Error {
  constructor(
    readonly code: ParleyErrorCode,
    message: string,
    /** For `rate_limited` and HTTP 429/503: wait at least this long before retrying. */
    readonly retryAfterMs?: number,
    /** For `http`: the response status. */
    readonly status?: number,
  ) {
    super(`${code}: ${message}`);
    this.name = "ParleyError";
  }

  /** Whether sending the same request again later can succeed. */
  get retryable(): boolean {
    return this.code === "timeout" || this.code === "closed" || this.code === "unavailable" || this.code === "internal" || this.code === "rate_limited";
  }
}
