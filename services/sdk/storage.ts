/**
 * Where the SDK keeps what must survive a restart of the app: the inbox cursor, each
 * group's last seen seq, and the outbox of unacknowledged sends. Values are plain JSON.
 * Use one storage per account and device: keys are not prefixed with the user id.
 */
export interface ParleyStorage {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every key that starts with `prefix`, in ascending order. */
  keys(prefix: string): Promise<string[]>;
}

/** Keeps everything in memory: state lasts as long as the page or process. The default. */
export function memoryStorage(): ParleyStorage {
  const values = new Map<string, string>();
  return {
    get: (key) => Promise.resolve(values.has(key) ? (JSON.parse(values.get(key) as string) as unknown) : undefined),
    set: (key, value) => {
      values.set(key, JSON.stringify(value));
      return Promise.resolve();
    },
    delete: (key) => {
      values.delete(key);
      return Promise.resolve();
    },
    keys: (prefix) => Promise.resolve([...values.keys()].filter((key) => key.startsWith(prefix)).sort()),
  };
}

/** The keys the SDK uses, in one place. */
export const StorageKeys = {
  cursor: "cursor",
  groupSeqPrefix: "group-seq/",
  outboxPrefix: "outbox/",
} as const;
