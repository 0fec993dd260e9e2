import type { SettingGroup, SettingName } from "../runtime/config.js";

/**
 * The hand-written part of docs/configuration.md's settings tables: a heading and an
 * introduction per group, and for some settings more than their one-line description.
 * Everything that the settings table knows (variable, flag, default, accepted values,
 * secrecy, the commands that read it) is generated and must not be repeated here.
 */
export const GROUP_DOCS: Record<SettingGroup, { title: string; intro: string }> = {
  server: { title: "Server and gateway", intro: "" },
  groups: {
    title: "Groups and activity-paced fan-out",
    intro: `Read by the groups service (its group service and fan-out); \`maxGroupMembers\` is also
reported to clients in \`hello\`. How the tiers look to a client is described in
[protocol.md, section 20](protocol.md#what-active-idle-and-offline-members-see); why they
exist, in [ADR 0006](adr/0006-activity-paced-fan-out.md).`,
  },
  notifications: {
    title: "Notifications",
    intro: `Read by the groups service's notifier, which sends one notification per offline member
and message it is asked for, rate-limited per user.`,
  },
  assets: {
    title: "Assets",
    intro: `Read by the assets service (the HTTP endpoints under \`/v1/assets\`), and by the chat and
groups services when a message carries assets. An upload larger than the largest of the
four limits is refused before its body is read. The HTTP server gives each request 30
seconds in all, upload included (not configurable), which bounds the largest upload that
slow clients can make in practice.`,
  },
  backends: {
    title: "Separate processes and production back ends (`parley serve`)",
    intro: `Read only by \`parley serve <service>\`, which runs one service per process on Kafka,
Cassandra, Redis and S3 (see [architecture.md](architecture.md#one-process-or-many)).
\`parley dev\` ignores them but still checks their values.`,
  },
};

export const SETTING_NOTES: Partial<Record<SettingName, string>> = {
  host: "Use `0.0.0.0` to accept connections from other machines.",
  dataDir:
    "See [operations.md](operations.md#data-directory). Relative paths are relative to the current directory. Created if missing.",
  jwtSecret:
    "It also verifies them, and asset download links are signed with a key derived from it, so changing it also invalidates every link. The dev secret is `<data-dir>/dev-jwt-secret`, generated once; `parley serve` refuses to start without this setting.",
  clusterName:
    "Topics: `parley.<cluster>.activity`, `parley.<cluster>.notifications`, `parley.<cluster>.group.<groupId>`, `parley.<cluster>.requests.<service>`.",
  gatewayId:
    "Also names the delivery channel and, under `parley serve`, the reply channel `replies:<gatewayId>`. The generated id: `gateway-<8 hex digits>` under `parley dev`, new at each start; the host name under `parley serve gateway`.",
  maxFrameBytes: "Reported to clients in `hello`.",
  framesPerSecond: "Fractions allowed. Reported in `hello`.",
  frameBurst:
    "It is also the number of consecutive refused frames after which the connection is closed with 4029, and the number of requests of one connection that may wait for a reply. Reported in `hello`.",
  heartbeatIntervalMs:
    "In milliseconds. A connection that has sent anything since the last ping counts as answered. Connection registry entries and presence marks live for three intervals; the presence service sweeps lapsed marks every interval; each answered round adds to the user's activity score. Reported in `hello`.",
  shutdownGraceMs: "In milliseconds; SIGINT counts as SIGTERM. Clients still connected after it are cut.",
  maxGroupMembers:
    "A `group.create` or `group.add` that would pass it fails with `group_full`. Lowering it does not shrink existing groups; they cannot grow until they are below it.",
  activeScoreThreshold:
    "A connection adds 2, a send 3, a read receipt 1, typing 1, each heartbeat round 0.02. The sender of a message always gets it in real time.",
  activityHalfLifeMs:
    "In milliseconds. With the defaults, a member who connects and does nothing turns idle after about 10 minutes. Also how often scores that have decayed to nearly nothing are forgotten.",
  idleBatchDelayMs: "Counted from the first held message, in milliseconds; the messages go out together in one `batched` frame.",
  notifyWebhookUrl:
    "An `http://` or `https://` URL of a relay to FCM, APNs... Each notification is a `POST` with a JSON body (format in [protocol.md, section 20](protocol.md#what-active-idle-and-offline-members-see)); an answer other than 2xx within 5 seconds counts as failed and is not retried.",
  notifyMinIntervalMs:
    "In milliseconds; notifications inside the interval are dropped (counted as `rate_limited`). `0` sends one for every message.",
  assetLinkTtlSeconds: "In seconds.",
  requestTimeoutMs: "In milliseconds. A service skips requests whose gateway has given up.",
  kafkaBrokers: "`host:port` entries separated by commas.",
  cassandraContactPoints: "`host:port` entries separated by commas.",
  redisUrl: "`rediss://` for TLS.",
  redisClusterNodes: "`host:port` entries separated by commas.",
  s3Endpoint: "An `http://` or `https://` URL.",
};
