/**
 * The backlog in front of each Parley service's Kafka consumer group while a benchmark
 * phase runs (real-backends.ts): shows which consumer the work waits for.
 */
import type { Admin } from "kafkajs";
import { kafkaConsumerGroupId } from "../adapters/kafka/kafka-event-bus.js";
import { topicPrefix } from "../events/cluster-names.js";
import { activityTopic, CONSUMER_GROUPS, groupShardTopics, groupTopics, requestTopic, type Topic, type TopicFamily } from "../events/topics.js";

export interface LagTarget {
  label: string;
  groupId: string;
  /** The group's topic, or the prefix of its topics. */
  topic: string;
  prefix: boolean;
}

export interface LagFigures {
  samples: number;
  /** Events published but not yet committed by the group, summed over its partitions. */
  max: number;
  mean: number;
}

/** The consumer groups of the run's services, as KafkaEventBus names them (`<prefix><group>@<topic>`). */
export function lagTargets(cluster: string): LagTarget[] {
  const groupPrefix = topicPrefix(cluster);
  const target = (label: string, group: string, topic: Topic<unknown> | TopicFamily<unknown>): LagTarget => {
    const selector = "name" in topic ? topic.name : { prefix: topic.prefix };
    const prefix = typeof selector !== "string";
    return { label, groupId: kafkaConsumerGroupId(groupPrefix, group, selector), topic: prefix ? selector.prefix : selector, prefix };
  };
  return [
    target("chat requests", CONSUMER_GROUPS.frameRequests("chat"), requestTopic(cluster, "chat")),
    target("groups requests", CONSUMER_GROUPS.frameRequests("groups"), requestTopic(cluster, "groups")),
    target("group fan-out, shared topics", CONSUMER_GROUPS.fanout, groupShardTopics(cluster)),
    target("group fan-out, per-group topics", CONSUMER_GROUPS.fanout, groupTopics(cluster)),
    target("activity → presence", CONSUMER_GROUPS.presence, activityTopic(cluster)),
  ];
}

/**
 * Samples the backlog of each service's consumer group while a phase runs: published
 * offsets minus committed ones (the bus commits after each fetched batch, and at least
 * every second within a long one, so this is the queue in front of a consumer to within
 * a batch). Shows which consumer the work waits for.
 */
export class LagSampler {
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();
  private figures = new Map<string, { samples: number; max: number; sum: number }>();

  constructor(
    private readonly admin: Admin,
    private readonly targets: LagTarget[],
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.figures = new Map(this.targets.map((t) => [t.label, { samples: 0, max: 0, sum: 0 }]));
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample());
    }, this.intervalMs);
  }

  async stop(): Promise<Record<string, LagFigures>> {
    clearInterval(this.timer);
    await this.sampling;
    const result: Record<string, LagFigures> = {};
    for (const [label, f] of this.figures) {
      if (f.samples > 0) result[label] = { samples: f.samples, max: f.max, mean: Math.round((f.sum / f.samples) * 10) / 10 };
    }
    return result;
  }

  private async sample(): Promise<void> {
    let topics: string[] | null = null;
    await Promise.all(
      this.targets.map(async (target) => {
        try {
          if (target.prefix) topics ??= await this.admin.listTopics();
          const names = target.prefix ? (topics ?? []).filter((t) => t.startsWith(target.topic)) : [target.topic];
          if (names.length === 0) return;
          const [committed, ...ends] = await Promise.all([
            this.admin.fetchOffsets({ groupId: target.groupId, topics: names }),
            ...names.map((topic) => this.admin.fetchTopicOffsets(topic)),
          ]);
          let lag = 0;
          names.forEach((topic, k) => {
            const done = new Map((committed.find((c) => c.topic === topic)?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
            for (const { partition, high } of ends[k] ?? []) {
              const at = done.get(partition) ?? -1;
              if (at >= 0) lag += Math.max(0, Number(high) - at);
            }
          });
          const f = this.figures.get(target.label);
          if (f) {
            f.samples += 1;
            f.sum += lag;
            f.max = Math.max(f.max, lag);
          }
        } catch {
          // a sample lost: the figure has fewer samples
        }
      }),
    );
  }
}

