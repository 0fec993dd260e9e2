/**
 * Error codes a client can switch on. They are part of the wire protocol: add new ones,
 * never rename or reuse one.
 */
export const ErrorCode = {
  malformedFrame: "malformed_frame",
  unsupportedFrame: "unsupported_frame",
  invalidFrame: "invalid_frame",
  rateLimited: "rate_limited",
  forbidden: "forbidden",
  notFound: "not_found",
  groupFull: "group_full",
  unavailable: "unavailable",
  internal: "internal",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error whose code and message are safe to show to the client that caused it. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}

/**
 * WebSocket close codes Parley uses. 1xxx are standard; 4xxx are Parley's own
 * (RFC 6455 reserves 4000-4999 for applications).
 */
export const CloseCode = {
  normal: 1000,
  messageTooBig: 1009,
  internalError: 1011,
  serviceRestart: 1012,
  slowConsumer: 4000,
  /** The connection's token reached its `exp`, right after a `reauthenticate` frame. */
  tokenExpired: 4001,
  rateLimitExceeded: 4029,
} as const;
