import kafkajs from "kafkajs";
import type { Admin } from "kafkajs";

const { ConfigResourceTypes, ConfigSource } = kafkajs;

/** What `ensureTopic` found and did. */
export interface EnsureTopicResult {
  /** The topic did not exist and was created. */
  created: boolean;
  /** Partitions before (0 when created) and after. */
  partitionsBefore: number;
  partitions: number;
  /** Replicas per partition. Kafka does not change it on its own: a mismatch is reported, not fixed. */
  replicationFactor: number;
  /** Config keys whose topic-level value was set or changed. */
  changedConfigs: string[];
}

/**
 * Makes a topic look as asked: creates it, or grows its partition count (Kafka cannot
 * shrink one: a topic with more partitions keeps them, and keys keep their partition only
 * as long as the count does not change) and sets the topic-level configs that differ.
 * Safe to call concurrently from several processes: "already exists" counts as created
 * by someone else.
 */
export async function ensureTopic(
  admin: Admin,
  name: string,
  partitions: number,
  replicationFactor: number,
  configs: Record<string, string> = {},
): Promise<EnsureTopicResult> {
  const created = await createTopicIfMissing(admin, name, partitions, replicationFactor, configs);
  if (created) {
    return { created, partitionsBefore: 0, partitions, replicationFactor, changedConfigs: Object.keys(configs) };
  }

  const described = await describeTopic(admin, name);
  let current = described.partitions;
  if (current < partitions) {
    try {
      await admin.createPartitions({ topicPartitions: [{ topic: name, count: partitions }] });
    } catch (error) {
      // Another process grew it at the same time: fine if it is now big enough.
      if ((await describeTopic(admin, name)).partitions < partitions) throw error;
    }
    current = partitions;
  }
  const changedConfigs = await setTopicConfigs(admin, name, configs);
  return { created, partitionsBefore: described.partitions, partitions: current, replicationFactor: described.replicationFactor, changedConfigs };
}

/** Creates a topic unless it exists (whoever created it); true if this call created it. Waits for its partition leaders. */
export function createTopicIfMissing(
  admin: Admin,
  name: string,
  partitions: number,
  replicationFactor: number,
  configs: Record<string, string> = {},
): Promise<boolean> {
  return admin.createTopics({
    topics: [
      {
        topic: name,
        numPartitions: partitions,
        replicationFactor,
        configEntries: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
      },
    ],
    waitForLeaders: true,
  });
}

async function describeTopic(admin: Admin, name: string): Promise<{ partitions: number; replicationFactor: number }> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [name] });
  const topic = topics.find((t) => t.name === name);
  if (!topic) throw new Error(`topic ${name} does not exist`);
  return { partitions: topic.partitions.length, replicationFactor: topic.partitions[0]?.replicas.length ?? 0 };
}

/**
 * Sets topic-level configs, keeping the topic's other overrides: Kafka's AlterConfigs
 * (the only config API kafkajs has) replaces all of a topic's overrides at once.
 */
async function setTopicConfigs(admin: Admin, name: string, wanted: Record<string, string>): Promise<string[]> {
  if (Object.keys(wanted).length === 0) return [];
  const { resources } = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name }],
    includeSynonyms: false,
  });
  const overrides = new Map<string, string>();
  for (const entry of resources[0]?.configEntries ?? []) {
    if (entry.configSource === ConfigSource.TOPIC_CONFIG) overrides.set(entry.configName, entry.configValue);
  }
  const changed = Object.keys(wanted).filter((key) => overrides.get(key) !== wanted[key]);
  if (changed.length === 0) return [];
  for (const [key, value] of Object.entries(wanted)) overrides.set(key, value);
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: ConfigResourceTypes.TOPIC,
        name,
        configEntries: [...overrides].map(([key, value]) => ({ name: key, value })),
      },
    ],
  });
  return changed;
}

/** The topic-level config overrides of a topic (not the broker defaults it inherits). */
export async function topicConfigs(admin: Admin, name: string): Promise<Record<string, string>> {
  const { resources } = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name }],
    includeSynonyms: false,
  });
  const result: Record<string, string> = {};
  for (const entry of resources[0]?.configEntries ?? []) {
    if (entry.configSource === ConfigSource.TOPIC_CONFIG) result[entry.configName] = entry.configValue;
  }
  return result;
}

/**
 * Deletes every topic whose name starts with `prefix` (never Kafka's internal `__` topics);
 * returns their names. Topics someone else deletes meanwhile count as deleted.
 *
 * A kafkajs client (admin, producer) that used a topic which is then deleted fails every
 * later request that needs metadata, for any topic ("This server does not host this
 * topic-partition"): give cleanups an admin client of their own, or a new one.
 */
export async function deleteTopicsWithPrefix(admin: Admin, prefix: string): Promise<string[]> {
  if (prefix === "") throw new Error("refusing to delete every topic: the prefix is empty");
  const matching = async (): Promise<string[]> => (await admin.listTopics()).filter((topic) => topic.startsWith(prefix) && !topic.startsWith("__"));
  const topics = await matching();
  if (topics.length === 0) return [];
  try {
    await admin.deleteTopics({ topics });
  } catch (error) {
    if ((await matching()).some((topic) => topics.includes(topic))) throw error;
  }
  return topics;
}

/**
 * Deletes the consumer groups (and so their committed offsets) whose id starts with
 * `prefix`, and returns their ids. Groups with members are left alone, and so are groups
 * that gain members or vanish while this runs.
 */
export async function deleteGroupsWithPrefix(admin: Admin, prefix: string): Promise<string[]> {
  if (prefix === "") throw new Error("refusing to delete every consumer group: the prefix is empty");
  const { groups } = await admin.listGroups();
  const ids = groups.map((g) => g.groupId).filter((id) => id.startsWith(prefix));
  if (ids.length === 0) return [];
  const { groups: described } = await admin.describeGroups(ids);
  const empty = described.filter((g) => g.state === "Empty").map((g) => g.groupId);
  if (empty.length === 0) return [];
  try {
    await admin.deleteGroups(empty);
    return empty;
  } catch (error) {
    const failed = (error as { groups?: { groupId: string; error?: { type?: string } }[] }).groups;
    if (!failed?.every((g) => g.error?.type === "GROUP_ID_NOT_FOUND" || g.error?.type === "NON_EMPTY_GROUP")) throw error;
    return empty.filter((id) => !failed.some((g) => g.groupId === id));
  }
}
