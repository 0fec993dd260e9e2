import type { ClientFrame, ClientFrameType, ServerFrame } from "../protocol/frames.js";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A client frame without its request id: the client assigns one. */
export type RequestFrame = DistributiveOmit<ClientFrame, "id">;
export type RequestFrameOf<T extends ClientFrameType> = Extract<RequestFrame, { type: T }>;

/** The success reply of each client frame (docs/protocol.md section 4). */
export const REPLY_TYPES = {
  send: "ack",
  "group.send": "ack",
  receipt: "receipt.ok",
  sync: "sync.batch",
  history: "history.page",
  ping: "pong",
  "group.create": "group",
  "group.add": "group",
  "group.remove": "group",
  "group.role": "group",
  "group.info": "group",
  "group.leave": "ok",
  "group.members": "group.members.page",
  "group.list": "group.list",
  "presence.subscribe": "presence.state",
  "presence.unsubscribe": "ok",
  "settings.set": "ok",
  typing: "ok",
} as const satisfies { readonly [T in ClientFrameType]: ServerFrame["type"] };

export type ReplyTo<T extends ClientFrameType> = Extract<ServerFrame, { type: (typeof REPLY_TYPES)[T] }>;

/** Sends a frame and resolves with its success reply; rejects with a ParleyError. */
export type Requester = <T extends ClientFrameType>(frame: RequestFrameOf<T>) => Promise<ReplyTo<T>>;
