import kafkajs from "kafkajs";
import type { Admin, Batch, Consumer, ConsumerCrashEvent, EachBatchPayload, KafkaConfig, KafkaMessage, LogEntry, logLevel as KafkajsLogLevel, Producer } from "kafkajs";
import type { BusEvent, EventBus, EventHandler, JsonValue, SubscribeOptions, Subscription, TopicSelector } from "../../ports/event-bus.js";
import { KeyedRunner } from "../../ports/keyed-runner.js";
import { createTopicIfMissing } from "./topic-admin.js";

const { Kafka, logLevel: LogLevel, Partitioners } = kafkajs;

export type KafkaLogLevel = "error" | "warn" | "info" | "debug";

export interface KafkaLogRecord {
  level: KafkaLogLevel;
  /** The kafkajs component: Consumer, Producer, Connection, ... */
  namespace: string;
  message: string;
  /** What kafkajs attached: groupId, topic, error, broker, ... */
  fields: Record<string, unknown>;
}

export interface KafkaEventBusOptions {
  /** Bootstrap servers, host:port. */
  brokers: string[];
  /** Names this process to the brokers; also the default prefix of consumer group ids. */
  clientId: string;
  /** Partitions of the topics the bus creates. Keys are spread over them; order holds per key. */
  partitions: number;
  /** Replicas of each partition of the topics the bus creates. */
  replicationFactor: number;
  /** Topic-level configs of created topics. Default: min.insync.replicas = min(2, replicationFactor). */
  topicConfigs?: Record<string, string>;
  /** Put before every topic name on the cluster (the bus reports names without it). Default: none. */
  topicPrefix?: string;
  /**
   * Put before every consumer group id: `<groupPrefix><group>@<topic>` (or `@<prefix>*`).
   * Processes that share a group must use the same one. Default: `<clientId>.`.
   */
  groupPrefix?: string;
  /** A handler failed (after `handlerAttempts` tries): the event is skipped (its offset committed). */
  onHandlerError: (error: unknown, event: BusEvent) => void;
  /** Something failed in the background: a consumer crashed, a topic refresh failed, a message was not JSON. */
  onError?: (error: unknown, context: string) => void;
  /**
   * A subscription's consumer lag changed: the events on its partitions not yet handled by
   * this process (the sum over the partitions it holds, as of each one's latest fetch), by
   * consumer group id; undefined once the subscription has stopped.
   */
  onConsumerLag?: (groupId: string, lag: number | undefined) => void;
  /** kafkajs's own log lines at `logLevel` or above. Default: not logged. */
  log?: (record: KafkaLogRecord) => void;
  logLevel?: KafkaLogLevel;
  /** Tries per event before it is reported and skipped; 1 (default) never retries. */
  handlerAttempts?: number;
  /** Pause before a retry: this times the number of tries so far. Default 200 ms. */
  handlerRetryDelayMs?: number;
  /** How often prefix subscriptions look for new topics created by other processes. Default 5000 ms. */
  topicRefreshMs?: number;
  /**
   * A consumer that does not heartbeat for this long is taken out of its group (its partitions move).
   * Default 10000 ms: also how long a group waits for a member that died without leaving (kill -9,
   * or a consumer that crashed while the broker was away and rejoined as a new member), so how
   * long its partitions go unconsumed after a process restart or a broker restart.
   */
  sessionTimeoutMs?: number;
  /** Default 1000 ms: also bounds how long a rebalance waits for an idle member. */
  heartbeatIntervalMs?: number;
  /** Longest wait of an empty fetch. Default 1000 ms (members notice a rebalance between fetches). */
  maxWaitTimeMs?: number;
  /** Offsets are committed after each fetched batch, and at least this often within a long one. Default 1000 ms. */
  commitIntervalMs?: number;
  /** Tries of a publish before it fails (kafkajs backs off from 300 ms). Default 5. */
  publishRetries?: number;
  /** TLS and SASL for the connection, as kafkajs takes them. */
  ssl?: KafkaConfig["ssl"];
  sasl?: KafkaConfig["sasl"];
}

interface InitialOffset {
  topic: string;
  partition: number;
  offset: string;
}

interface Pending {
  topic: string;
  key: string;
  value: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Kafka's pre-3.0 default; kafkajs's 30 s held a partition half a minute after every member crash. */
const DEFAULT_SESSION_TIMEOUT_MS = 10_000;

const LEVELS: Record<KafkaLogLevel, KafkajsLogLevel> = { error: LogLevel.ERROR, warn: LogLevel.WARN, info: LogLevel.INFO, debug: LogLevel.DEBUG };
const LEVEL_NAMES = new Map<KafkajsLogLevel, KafkaLogLevel>(Object.entries(LEVELS).map(([name, level]) => [level, name as KafkaLogLevel]));
/** kafkajs logs these at error or warn level although they are expected. */
const EXPECTED_LOGS = [/Topic creation errors/, /Limiting retries for the idempotent producer/, /coordinator is (loading|not available)/i];

/**
 * The EventBus on Kafka, with kafkajs.
 *
 * - publish: an idempotent producer, acks from all in-sync replicas (-1); the topic is
 *   created on first use (partitions, replication factor and configs from the options).
 *   Publishes that arrive while one is in flight go out together in the next request,
 *   in call order, so order per key holds. After a failed send the next one goes through
 *   a new producer (see `producerSuspect`).
 * - subscribe: one kafkajs consumer per subscription, in consumer group
 *   `<groupPrefix><group>@<topic>` (`@<prefix>*` for a prefix): Kafka groups are per topic
 *   here, as the port's groups are (and kafkajs's assigners would hand a member partitions
 *   of topics it did not subscribe to if one group id served several topic lists).
 *   `subscribe` resolves once the consumer has joined its group and has its partitions.
 *   Events of one key are handled one at a time, in offset order; with a subscription's
 *   `concurrency` above 1, events of different keys run side by side (batches of up to
 *   `concurrency` partitions at once, and the keys within each batch), at most
 *   `concurrency` handlers at once in all. A fetch's batches are handled to the end before
 *   the consumer fetches again, which is also what lets a rebalance wait for them.
 *   Offsets are committed (manually) only up to the first event not yet handled, so a
 *   crash replays the unfinished events (and those after them) instead of losing them
 *   (at-least-once).
 * - where a group starts: a group without committed offsets on its topics is new and
 *   starts at their end (the end offsets are committed for it before it consumes), so it
 *   gets every event published after `subscribe` resolved and no history. Partitions
 *   without offsets in a group that has some, and topics a prefix subscription discovers,
 *   start at their beginning (their starting offsets are committed first too).
 * - handler errors: the handler is tried `handlerAttempts` times (default once), then
 *   `onHandlerError` gets the error and the event, which is skipped.
 * - prefix subscriptions: Kafka fixes a consumer's topic list when it subscribes, so the
 *   bus lists the topics every `topicRefreshMs` (and at once when it creates a matching
 *   topic itself) and restarts the consumer with the new list; committed offsets carry over.
 */
export class KafkaEventBus implements EventBus {
  private readonly kafka: InstanceType<typeof Kafka>;
  // Replaced when a topic they used was deleted: kafkajs clients keep asking for the
  // metadata of every topic they used and then fail for all topics.
  private admin: Admin;
  private producer: Producer;
  private readonly topicPrefix: string;
  private readonly groupPrefix: string;
  private readonly topicConfigs: Record<string, string>;
  /** Topics (cluster names) known to exist, or being created. */
  private readonly topics = new Map<string, Promise<void>>();
  private readonly subscriptions = new Set<KafkaSubscription>();
  /** Subscriptions of one group start one after another: the first may initialise the group's offsets. */
  private readonly groupStarts = new Map<string, Promise<unknown>>();
  private queue: Pending[] = [];
  private sending: Promise<void> | undefined;
  /**
   * A send failed, so the idempotent producer's sequence numbers may no longer match the
   * broker's (a batch written although its answer was lost, or a broker that restarted):
   * kafkajs then gets OUT_OF_ORDER_SEQUENCE_NUMBER for every later batch and never
   * recovers. The next send goes through a new producer (a new producer id, sequences
   * from 0), at the cost of a possible duplicate of the failed batch, which the caller
   * saw fail and may retry anyway.
   */
  private producerSuspect = false;
  private adminReady: Promise<void> = Promise.resolve();
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  /** Counts refresh requests: a refresh that sees it change while it runs runs again. */
  private refreshRequests = 0;
  private closed = false;

  private constructor(readonly options: KafkaEventBusOptions) {
    this.topicPrefix = options.topicPrefix ?? "";
    this.groupPrefix = options.groupPrefix ?? `${options.clientId}.`;
    this.topicConfigs = options.topicConfigs ?? { "min.insync.replicas": String(Math.min(2, options.replicationFactor)) };
    const minLevel = LEVELS[options.logLevel ?? "warn"];
    const log = options.log;
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      ssl: options.ssl,
      sasl: options.sasl,
      logLevel: log ? minLevel : LogLevel.NOTHING,
      logCreator: () => (entry: LogEntry) => {
        const { message } = entry.log;
        if (!log || EXPECTED_LOGS.some((pattern) => pattern.test(message))) return;
        const fields: Record<string, unknown> = { ...entry.log };
        delete fields.message;
        delete fields.timestamp;
        log({ level: LEVEL_NAMES.get(entry.level) ?? "info", namespace: entry.namespace, message, fields });
      },
    });
    this.admin = this.kafka.admin();
    this.producer = this.newProducer();
  }

  /** Connects to the cluster; fails if no broker answers. */
  static async connect(options: KafkaEventBusOptions): Promise<KafkaEventBus> {
    const bus = new KafkaEventBus(options);
    try {
      await bus.admin.connect();
      await bus.producer.connect();
      for (const topic of await bus.admin.listTopics()) bus.topics.set(topic, Promise.resolve());
    } catch (error) {
      await bus.disconnectClients();
      throw error;
    }
    return bus;
  }

  publish(topic: string, key: string, value: JsonValue): Promise<void> {
    if (this.closed) return Promise.reject(new Error("event bus is closed"));
    // Serialised now: later changes to `value` do not reach subscribers.
    const serialized = JSON.stringify(value);
    const clusterTopic = this.topicPrefix + topic;
    return this.ensureTopic(clusterTopic).then(
      () =>
        new Promise<void>((resolve, reject) => {
          this.queue.push({ topic: clusterTopic, key, value: serialized, resolve, reject });
          // A microtask later: publishes made together (one tick, or a Promise.all) go out in one request.
          this.sending ??= Promise.resolve().then(() => this.sendQueued());
        }),
    );
  }

  async subscribe(selector: TopicSelector, group: string, handler: EventHandler, options?: SubscribeOptions): Promise<Subscription> {
    if (this.closed) throw new Error("event bus is closed");
    const isPrefix = typeof selector !== "string";
    const subscription = new KafkaSubscription(this, {
      groupId: kafkaConsumerGroupId(this.groupPrefix, group, selector),
      clusterPrefix: isPrefix ? this.topicPrefix + selector.prefix : undefined,
      handler,
      concurrency: options?.concurrency ?? 1,
    });
    let topics: string[];
    if (isPrefix) {
      await Promise.all((selector.create ?? []).map((topic) => this.ensureTopic(this.topicPrefix + topic)));
      const clusterPrefix = this.topicPrefix + selector.prefix;
      topics = (await this.withAdmin((admin) => admin.listTopics())).filter((topic) => topic.startsWith(clusterPrefix)).sort();
    } else {
      topics = [this.topicPrefix + selector];
      await this.ensureTopic(topics[0] ?? "");
    }
    const previous = this.groupStarts.get(subscription.groupId) ?? Promise.resolve();
    const starting = previous.catch(() => undefined).then(() => subscription.start(topics));
    this.groupStarts.set(subscription.groupId, starting);
    try {
      await starting;
    } finally {
      if (this.groupStarts.get(subscription.groupId) === starting) this.groupStarts.delete(subscription.groupId);
    }
    if (this.isClosed()) {
      // Closed while it started: close() did not see it.
      await subscription.stop();
      throw new Error("event bus is closed");
    }
    this.subscriptions.add(subscription);
    if (isPrefix) {
      this.startRefreshing();
      // Topics created while it started.
      this.refreshSoon();
    }
    return {
      unsubscribe: async () => {
        this.subscriptions.delete(subscription);
        await subscription.stop();
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.refreshTimer);
    await this.refreshing;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.subscriptions.clear();
    await this.sending;
    await this.disconnectClients();
  }

  // ---- used by KafkaSubscription ----

  isClosed(): boolean {
    return this.closed;
  }

  /** The port's name of a cluster topic. */
  portTopic(clusterTopic: string): string {
    return clusterTopic.slice(this.topicPrefix.length);
  }

  createConsumer(groupId: string, restartOnFailure: (error: Error) => Promise<boolean>): Consumer {
    const sessionTimeout = this.options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    return this.kafka.consumer({
      groupId,
      sessionTimeout,
      heartbeatInterval: Math.min(this.options.heartbeatIntervalMs ?? 1000, Math.floor(sessionTimeout / 3)),
      maxWaitTimeInMs: this.options.maxWaitTimeMs ?? 1000,
      allowAutoTopicCreation: false,
      retry: { restartOnFailure },
    });
  }

  /**
   * Offsets to commit for a group before it consumes, for the partitions of `topics` that
   * have none yet: the end of each partition if the group has no committed offset on any of
   * these topics (a new group: it starts with what is published from now on), otherwise
   * the beginning (partitions and topics that appeared since the group last committed).
   * With `fromBeginning` (topics a prefix subscription discovers), always the beginning.
   * Committing at once also means a consumer that crashes before its first commit leaves
   * its successor the same starting point, not a later one.
   */
  async initialOffsets(groupId: string, topics: string[], fromBeginning: boolean): Promise<InitialOffset[]> {
    if (topics.length === 0) return [];
    const committed = await this.withAdmin((admin) => admin.fetchOffsets({ groupId, topics }));
    const missing = new Map<string, Set<number>>();
    let anyCommitted = false;
    for (const { topic, partitions } of committed) {
      for (const { partition, offset } of partitions) {
        if (offset !== "-1") anyCommitted = true;
        else missing.set(topic, (missing.get(topic) ?? new Set()).add(partition));
      }
    }
    const atEnd = !fromBeginning && !anyCommitted;
    const result: InitialOffset[] = [];
    await Promise.all(
      [...missing].map(async ([topic, partitions]) => {
        for (const { partition, high, low } of await this.withAdmin((admin) => admin.fetchTopicOffsets(topic))) {
          if (partitions.has(partition)) result.push({ topic, partition, offset: atEnd ? high : low });
        }
      }),
    );
    return result;
  }

  reportError(error: unknown, context: string): void {
    this.options.onError?.(error, context);
  }

  // ---- internals ----

  private ensureTopic(clusterTopic: string): Promise<void> {
    let ready = this.topics.get(clusterTopic);
    if (!ready) {
      const { partitions, replicationFactor } = this.options;
      ready = this.withAdmin((admin) => createTopicIfMissing(admin, clusterTopic, partitions, replicationFactor, this.topicConfigs)).then(() => {
        if ([...this.subscriptions].some((s) => s.clusterPrefix !== undefined && clusterTopic.startsWith(s.clusterPrefix))) this.refreshSoon();
      });
      this.topics.set(clusterTopic, ready);
      ready.catch(() => this.topics.delete(clusterTopic));
    }
    return ready;
  }

  /** Sends what is queued, as one request per round, until the queue is empty. */
  private async sendQueued(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const byTopic = new Map<string, { key: string; value: string }[]>();
      for (const { topic, key, value } of batch) {
        const messages = byTopic.get(topic) ?? [];
        messages.push({ key, value });
        byTopic.set(topic, messages);
      }
      const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
      try {
        if (this.producerSuspect) {
          await this.replaceProducer();
          this.producerSuspect = false;
        }
        try {
          await this.producer.sendBatch({ acks: -1, topicMessages });
        } catch (error) {
          if (!isUnknownTopic(error) || this.closed) throw error;
          // A topic this producer used is gone (maybe one of these): new producer, topics
          // created again, one more try.
          for (const topic of byTopic.keys()) this.topics.delete(topic);
          await this.replaceProducer();
          await Promise.all([...byTopic.keys()].map((topic) => this.ensureTopic(topic)));
          await this.producer.sendBatch({ acks: -1, topicMessages });
        }
        for (const pending of batch) pending.resolve();
      } catch (error) {
        this.producerSuspect = true;
        for (const topic of byTopic.keys()) this.topics.delete(topic);
        for (const pending of batch) pending.reject(error);
      }
    }
    this.sending = undefined;
  }

  private startRefreshing(): void {
    if (this.refreshTimer || this.closed) return;
    this.refreshTimer = setInterval(() => {
      this.refreshSoon();
    }, this.options.topicRefreshMs ?? 5000);
    this.refreshTimer.unref();
  }

  /** Lists the topics and hands each prefix subscription its new topic list (one refresh at a time). */
  private refreshSoon(): void {
    if (this.closed) return;
    this.refreshRequests++;
    if (this.refreshing) return;
    this.refreshing = (async () => {
      let handled: number;
      do {
        handled = this.refreshRequests;
        try {
          const listed = await this.withAdmin((admin) => admin.listTopics());
          for (const topic of listed) if (!this.topics.has(topic)) this.topics.set(topic, Promise.resolve());
          const existing = new Set(listed);
          for (const topic of this.topics.keys()) if (!existing.has(topic)) this.topics.delete(topic);
          const updates: Promise<void>[] = [];
          for (const subscription of this.subscriptions) {
            const prefix = subscription.clusterPrefix;
            if (prefix !== undefined) updates.push(subscription.updateTopics(listed.filter((topic) => topic.startsWith(prefix)).sort()));
          }
          await Promise.all(updates);
        } catch (error) {
          this.reportError(error, "could not refresh the topics of prefix subscriptions");
        }
      } while (handled !== this.refreshRequests && !this.closed);
      this.refreshing = undefined;
    })();
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: this.options.publishRetries ?? 5 },
    });
  }

  private async replaceProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    await old.disconnect().catch(() => undefined);
    await this.producer.connect();
  }

  /**
   * Runs an admin request, again after errors Kafka calls retriable (a partition whose
   * leader is still moving in just after the topic was created, which kafkajs's admin does
   * not retry), and with a new admin client after an unknown topic (see `admin`).
   */
  private async withAdmin<T>(request: (admin: Admin) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const admin = this.admin;
      try {
        return await request(admin);
      } catch (error) {
        if (this.closed || attempt >= 5 || !isRetriable(error)) throw error;
        if (isUnknownTopic(error) && this.admin === admin) {
          this.admin = this.kafka.admin();
          this.adminReady = this.admin.connect();
          void admin.disconnect().catch(() => undefined);
        }
        await this.adminReady;
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
  }

  private async disconnectClients(): Promise<void> {
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }
}

/** One subscription: a kafkajs consumer (none while a prefix matches no topic), restarted when its topic list changes. */
class KafkaSubscription {
  readonly groupId: string;
  readonly clusterPrefix: string | undefined;
  private readonly handler: EventHandler;
  /** Keeps one key's events in order and caps the handlers running at once, over all partitions. */
  private readonly runner: KeyedRunner;
  private consumer: Consumer | undefined;
  private topics: string[] = [];
  /** Unhandled events per partition held (`topic/partition`), from each one's latest fetch. */
  private readonly lag = new Map<string, bigint>();
  private stopping = false;
  /** Starts, restarts and stops, one after another. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly bus: KafkaEventBus,
    init: { groupId: string; clusterPrefix: string | undefined; handler: EventHandler; concurrency: number },
  ) {
    this.groupId = init.groupId;
    this.clusterPrefix = init.clusterPrefix;
    this.handler = init.handler;
    this.runner = new KeyedRunner(init.concurrency);
  }

  /** Resolves once the consumer has joined its group and has its partitions. */
  start(topics: string[]): Promise<void> {
    return this.enqueue(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.run(topics, await this.bus.initialOffsets(this.groupId, topics, false));
          return;
        } catch (error) {
          if (attempt >= 3 || this.stopping || !isRetriable(error)) throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    });
  }

  updateTopics(topics: string[]): Promise<void> {
    return this.enqueue(async () => {
      if (this.stopping || sameList(topics, this.topics)) return;
      await this.shutDownConsumer();
      // Topics that appeared since the subscription: read from their beginning.
      await this.run(topics, await this.bus.initialOffsets(this.groupId, topics, true));
    });
  }

  stop(): Promise<void> {
    this.stopping = true;
    return this.enqueue(() => this.shutDownConsumer());
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.chain.then(step);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async run(topics: string[], initial: InitialOffset[]): Promise<void> {
    this.topics = topics;
    if (topics.length === 0 || this.stopping) return;
    let started = false;
    let startError: Error | undefined;
    const consumer = this.bus.createConsumer(this.groupId, (error) => {
      // Before the start completes the error goes to the caller; after it, kafkajs restarts
      // the consumer on retriable errors and the bus reports them.
      if (!started) return Promise.resolve(false);
      this.bus.reportError(error, `consumer of ${this.groupId} crashed; restarting`);
      return Promise.resolve(!this.stopping);
    });
    // Partitions may have moved: the lag of those still held comes with their next fetch.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.lag.clear();
      this.reportLag();
    });
    consumer.on(consumer.events.CRASH, (event: ConsumerCrashEvent) => {
      if (!started) startError = event.payload.error;
      else if (!event.payload.restart && !this.stopping) this.scheduleRestart(consumer);
    });
    this.consumer = consumer;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      const running = consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        // kafkajs hands each of these a partition's batch; the runner caps the handlers.
        partitionsConsumedConcurrently: this.runner.limit,
        eachBatch: (payload) => this.handleBatch(payload),
      });
      // Hold the partitions without a committed offset until their starting offsets are.
      const held = [...new Set(initial.map((o) => o.topic))].map((topic) => ({ topic }));
      if (held.length > 0) consumer.pause(held);
      await running;
      if (startError !== undefined) throw startError;
      if (held.length > 0) {
        await consumer.commitOffsets(initial);
        // The fetch loop may have resolved these partitions to their beginning meanwhile.
        for (const { topic, partition, offset } of initial) consumer.seek({ topic, partition, offset });
        consumer.resume(held);
      }
      started = true;
    } catch (error) {
      this.consumer = undefined;
      // A refresh with the same topics must try again.
      this.topics = [];
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  private scheduleRestart(crashed: Consumer): void {
    this.bus.reportError(new Error(`consumer of ${this.groupId} stopped`), "restarting it in 5 s");
    setTimeout(() => {
      void this.enqueue(async () => {
        if (this.stopping || this.consumer !== crashed) return;
        await this.shutDownConsumer();
        await this.run(this.topics, await this.bus.initialOffsets(this.groupId, this.topics, true));
      }).catch((error: unknown) => {
        this.bus.reportError(error, `could not restart the consumer of ${this.groupId}`);
        if (this.consumer === undefined && !this.stopping) this.scheduleRestart(crashed);
      });
    }, 5000).unref();
  }

  private async shutDownConsumer(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    // Waits for the batch in hand (whose handled events are committed), then leaves the group.
    if (consumer) await consumer.disconnect();
    this.lag.clear();
    this.reportLag();
  }

  /** Tells the bus's owner the subscription's lag: the sum over its partitions, none once it stopped. */
  private reportLag(): void {
    const report = this.bus.options.onConsumerLag;
    if (report === undefined) return;
    let total = 0n;
    for (const lag of this.lag.values()) total += lag;
    report(this.groupId, this.stopping ? undefined : Number(total));
  }

  /** After `offset` was handled (or before the first of a batch, offset - 1): what the fetch's high watermark says is left. */
  private recordLag(batch: Batch, handledOffset: bigint): void {
    const left = BigInt(batch.highWatermark) - handledOffset - 1n;
    this.lag.set(`${batch.topic}/${batch.partition}`, left > 0n ? left : 0n);
    this.reportLag();
  }

  /**
   * Hands every event of the batch to the runner (one key's events in offset order), and
   * returns once all have run or were given up. Offsets are resolved and committed up to
   * the first event not yet handled, so a commit never covers an unfinished event. Once
   * the consumer is stopping, the partition is taken away or its group rebalances, events
   * not yet started are given up (with every later one of their key): the next owner gets
   * them from the committed offset.
   */
  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const commitIntervalMs = this.bus.options.commitIntervalMs ?? 1000;
    const messages = batch.messages;
    const handled = messages.map(() => false);
    /** Events before this index are all handled. */
    let handledPrefix = 0;
    let committed = 0;
    let lastCommit = Date.now();
    /** kafkajs's own error: it rejoins the group when a batch throws it. */
    let rebalance: Error | undefined;
    // Latched: once given up, no later event starts, even if a condition clears again
    // (kafkajs's isStale can), so a key's events never run past one that was skipped.
    let abandoned = false;
    const givenUp = (): boolean => (abandoned ||= rebalance !== undefined || !payload.isRunning() || payload.isStale() || this.stopping);
    let commits: Promise<void> = Promise.resolve();
    const commit = (): Promise<void> => {
      // Each commit is tried afresh: one that failed (the group rebalancing) is reported by the last.
      commits = commits.catch(() => undefined).then(async () => {
        const upTo = handledPrefix;
        const last = messages[upTo - 1];
        if (upTo === committed || last === undefined) return;
        const offset = (BigInt(last.offset) + 1n).toString();
        await payload.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset }] }] });
        committed = upTo;
        lastCommit = Date.now();
      });
      return commits;
    };
    const first = messages[0];
    if (first !== undefined) this.recordLag(batch, BigInt(first.offset) - 1n);
    // A slow handler must not cost the consumer its group membership; a failed heartbeat
    // means the group is rebalancing: start nothing more, keep what was handled.
    const keepAlive = setInterval(() => {
      payload.heartbeat().catch((error: unknown) => {
        rebalance ??= error instanceof Error ? error : new Error(String(error));
      });
    }, this.bus.options.heartbeatIntervalMs ?? 1000);
    let results: PromiseSettledResult<void>[];
    try {
      results = await Promise.allSettled(
        messages.map((message, index) =>
          this.runner.run(`${batch.topic}\u0000${message.key?.toString("utf8") ?? ""}`, async () => {
            if (givenUp()) return;
            await this.handleMessage(batch, message);
            handled[index] = true;
            let advanced = false;
            while (handled[handledPrefix] === true) {
              handledPrefix++;
              advanced = true;
            }
            const last = messages[handledPrefix - 1];
            if (!advanced || last === undefined) return;
            payload.resolveOffset(last.offset);
            this.recordLag(batch, BigInt(last.offset));
            // Not awaited: a commit that fails here is retried by the one at the end of the batch.
            if (Date.now() - lastCommit >= commitIntervalMs) void commit().catch(() => undefined);
          }),
        ),
      );
    } finally {
      clearInterval(keepAlive);
    }
    await commit();
    if (rebalance !== undefined) throw rebalance;
    for (const result of results) if (result.status === "rejected") throw result.reason;
    // The group may be rebalancing: the error makes kafkajs rejoin, after the commit above.
    if (!givenUp()) await payload.heartbeat();
  }

  private async handleMessage(batch: Batch, message: KafkaMessage): Promise<void> {
    let event: BusEvent;
    try {
      event = {
        topic: this.bus.portTopic(batch.topic),
        key: message.key?.toString("utf8") ?? "",
        value: message.value === null ? null : (JSON.parse(message.value.toString("utf8")) as JsonValue),
      };
    } catch (error) {
      this.bus.reportError(error, `skipped a message that is not JSON: ${batch.topic}/${batch.partition}@${message.offset}`);
      return;
    }
    const attempts = Math.max(1, this.bus.options.handlerAttempts ?? 1);
    const retryDelayMs = this.bus.options.handlerRetryDelayMs ?? 200;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.handler(event);
        return;
      } catch (error) {
        if (attempt >= attempts || this.stopping) {
          this.bus.options.onHandlerError(error, event);
          return;
        }
      }
      await new Promise<void>((resolve) => setTimeout(resolve, retryDelayMs * attempt));
    }
  }
}

/** Whether a kafkajs error (or what caused it) is Kafka's UNKNOWN_TOPIC_OR_PARTITION. */
function isUnknownTopic(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if ((e as Error & { type?: unknown }).type === "UNKNOWN_TOPIC_OR_PARTITION") return true;
  }
  return false;
}

/** Retriable by Kafka's error table (kafkajs gave up on it at once), or an unknown topic. */
function isRetriable(error: unknown): boolean {
  return (error as { retriable?: unknown } | undefined)?.retriable === true || isUnknownTopic(error);
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/**
 * The Kafka consumer group of a subscription: `<groupPrefix><group>@<topic>`, or
 * `@<prefix>*` for a prefix subscription. One group per (group, topic) so that a role's
 * subscriptions to different topics rebalance independently.
 */
export function kafkaConsumerGroupId(groupPrefix: string, group: string, selector: TopicSelector): string {
  return `${groupPrefix}${group}@${typeof selector === "string" ? selector : `${selector.prefix}*`}`;
}
