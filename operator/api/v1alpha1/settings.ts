import { envNames, SETTINGS, type SettingName } from "../../../services/runtime/config.js";

/**
 * The settings the operator sets itself on every container (from other spec fields or
 * per pod). They may not appear in a service's `settings` map.
 */
export const MANAGED_SETTINGS = [
  "host",
  "port",
  "dataDir",
  "clusterName",
  "gatewayId",
  "jwtSecret",
  "kafkaBrokers",
  "kafkaPartitions",
  "kafkaReplicationFactor",
  "groupTopics",
  "cassandraContactPoints",
  "cassandraLocalDataCenter",
  "cassandraKeyspace",
  "cassandraReplication",
  "cassandraConsistency",
  "cassandraUsername",
  "cassandraPassword",
  "redisUrl",
  "redisClusterNodes",
  "redisPassword",
  "s3Endpoint",
  "s3Region",
  "s3Bucket",
  "s3AccessKey",
  "s3SecretKey",
] as const satisfies readonly SettingName[];

function envName(name: SettingName): string {
  return envNames(name)[0] ?? name;
}

/** Setting name by environment variable, for the settings a `settings` map may hold. */
export const EXTRA_SETTINGS: ReadonlyMap<string, SettingName> = new Map(
  (Object.keys(SETTINGS) as SettingName[])
    .filter((name) => !(MANAGED_SETTINGS as readonly SettingName[]).includes(name) && !("secret" in SETTINGS[name] && SETTINGS[name].secret))
    .map((name) => [envName(name), name]),
);

/** The environment variable of a setting (its first name). */
export function settingEnv(name: SettingName): string {
  return envName(name);
}

/**
 * Checks a service's extra settings against the settings table: every key an allowed
 * variable, every value what `parley serve` would accept. Returns the problems, one per
 * bad entry (empty when all are fine).
 */
export function settingProblems(settings: Readonly<Record<string, string>>, where: string): string[] {
  const problems: string[] = [];
  for (const [env, value] of Object.entries(settings)) {
    const name = EXTRA_SETTINGS.get(env);
    if (name === undefined) {
      problems.push(`${where}.${env}: not a setting a MessagingCluster may set (allowed: ${[...EXTRA_SETTINGS.keys()].join(", ")})`);
      continue;
    }
    const parsed = SETTINGS[name].schema.safeParse(value);
    if (!parsed.success) problems.push(`${where}.${env}: ${parsed.error.issues[0]?.message ?? "invalid"} (got ${JSON.stringify(value)})`);
  }
  return problems;
}
