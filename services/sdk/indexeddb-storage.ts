import type { ParleyStorage } from "./storage.js";

// The few IndexedDB types used here, so the package type-checks without the DOM library.
interface Request<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface ObjectStore {
  get(key: string): Request<unknown>;
  put(value: unknown, key: string): Request<unknown>;
  delete(key: string): Request<unknown>;
  getAllKeys(range: unknown): Request<string[]>;
}
interface Database {
  transaction(store: string, mode: "readonly" | "readwrite"): { objectStore(name: string): ObjectStore };
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): ObjectStore;
}
interface OpenRequest extends Request<Database> {
  onupgradeneeded: (() => void) | null;
}
interface Factory {
  open(name: string, version: number): OpenRequest;
}
interface KeyRangeStatic {
  bound(lower: string, upper: string, lowerOpen: boolean, upperOpen: boolean): unknown;
}

const STORE = "kv";

/**
 * Keeps the SDK's state in the browser's IndexedDB, database `name` (one per account and
 * device, e.g. `parley-alice`), so a reload resumes from the cursor and resends the outbox.
 */
export function indexedDbStorage(name: string, factory?: Factory): ParleyStorage {
  const scope = globalThis as { indexedDB?: Factory; IDBKeyRange?: KeyRangeStatic };
  const indexedDB = factory ?? scope.indexedDB;
  if (!indexedDB) throw new Error("IndexedDB is not available here: use memoryStorage() or, in Node.js, fileStorage from @parley/sdk/node");
  const database = new Promise<Database>((resolve, reject) => {
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => {
      if (!open.result.objectStoreNames.contains(STORE)) open.result.createObjectStore(STORE);
    };
    open.onsuccess = () => { resolve(open.result); };
    open.onerror = () => { reject(asError(open.error)); };
  });
  const run = async <T>(mode: "readonly" | "readwrite", action: (store: ObjectStore) => Request<T>): Promise<T> => {
    const store = (await database).transaction(STORE, mode).objectStore(STORE);
    return new Promise<T>((resolve, reject) => {
      const request = action(store);
      request.onsuccess = () => { resolve(request.result); };
      request.onerror = () => { reject(asError(request.error)); };
    });
  };
  return {
    get: (key) => run("readonly", (store) => store.get(key)),
    set: async (key, value) => {
      await run("readwrite", (store) => store.put(value, key));
    },
    delete: async (key) => {
      await run("readwrite", (store) => store.delete(key));
    },
    keys: async (prefix) => {
      const KeyRange = scope.IDBKeyRange;
      if (!KeyRange) throw new Error("IDBKeyRange is not available");
      // Every string that starts with prefix sorts between prefix and prefix + U+FFFF.
      const keys = await run("readonly", (store) => store.getAllKeys(KeyRange.bound(prefix, `${prefix}\uffff`, false, false)));
      return keys.map(String).sort();
    },
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(`IndexedDB: ${String(error)}`);
}
