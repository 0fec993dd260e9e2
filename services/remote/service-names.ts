import type { ServiceFrameType } from "../gateway/session.js";

export const SERVICE_NAMES = ["gateway", "chat", "groups", "presence", "assets"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Which service answers each frame type the gateway hands on. */
export const FRAME_OWNERS: { readonly [T in ServiceFrameType]: Exclude<ServiceName, "gateway" | "assets"> } = {
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

export function requestTopic(clusterName: string, service: ServiceName): string {
  return `parley.${clusterName}.requests.${service}`;
}

/**
 * The delivery channel id on which a gateway receives replies to the requests it sent.
 * Gateway ids cannot contain a colon, so this never names a gateway's own channel.
 */
export function replyChannel(gatewayId: string): string {
  return `replies:${gatewayId}`;
}
