import type { ServiceFrameType } from "../protocol/session.js";

/** The roles `parley serve` runs, one per process; the operator makes one Deployment of each. */
export const SERVICE_NAMES = ["gateway", "chat", "groups", "presence", "assets"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The services that answer client frames handed over by the gateways. */
export type FrameOwner = Exclude<ServiceName, "gateway" | "assets">;
export const FRAME_OWNER_NAMES: readonly FrameOwner[] = SERVICE_NAMES.filter((name): name is FrameOwner => name !== "gateway" && name !== "assets");

/** Which service answers each frame type the gateway hands on. */
export const FRAME_OWNERS: { readonly [T in ServiceFrameType]: FrameOwner } = {
  send: "chat",
  receipt: "chat",
  sync: "chat",
  history: "chat",
  "group.create": "groups",
  "group.add": "groups",
  "group.remove": "groups",
  "group.leave": "groups",
  "group.role": "groups",
  "group.info": "groups",
  "group.members": "groups",
  "group.list": "groups",
  "group.send": "groups",
  "presence.subscribe": "presence",
  "presence.unsubscribe": "presence",
  "settings.set": "presence",
};
