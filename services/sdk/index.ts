// The public API of @parley/sdk: everything an app imports. Browser-safe: nothing here may
// import a Node.js module (the Node-only parts are in node.ts, `@parley/sdk/node`).
export { ParleyClient, PROTOCOL_SUBPROTOCOL, BEARER_SUBPROTOCOL_PREFIX } from "./client.js";
export { ParleyError, type ParleyErrorCode } from "./errors.js";
export { memoryStorage, type ParleyStorage } from "./storage.js";
export { indexedDbStorage } from "./indexeddb-storage.js";
export { reconnectDelayMs } from "./backoff.js";
export type { GroupsApi } from "./groups.js";
export type { PresenceApi } from "./presence.js";
export type { AssetsApi, AssetInfo, UploadOptions } from "./assets.js";
export type { XhrConstructor, XhrLike } from "./xhr-upload.js";
export type { RequestFrame, RequestFrameOf, ReplyTo } from "./replies.js";
export type {
  CloseInfo,
  ConnectionState,
  HelloFrame,
  OutboxEntry,
  ParleyEvents,
  ParleyOptions,
  ReconnectOptions,
  TokenReason,
  TokenSource,
  WebSocketConstructor,
  WebSocketLike,
} from "./types.js";
export type {
  GroupInfo,
  GroupMembershipChange,
  GroupRole,
  GroupSummary,
  InboxEvent,
  LastSeenVisibility,
  Message,
  MessageBody,
  PresenceView,
  Receipt,
  ReceiptKind,
  ServerFrame,
  ClientFrame,
} from "../protocol/frames.js";
export type { ErrorCode } from "../protocol/errors.js";
