// @parley/sdk/node: the Node.js-only parts (the `ws` WebSocket, storage in a file).
// Browser bundles must not import this file.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import WebSocket from "ws";
import type { ParleyStorage } from "./storage.js";
import type { WebSocketConstructor } from "./types.js";

/**
 * The `ws` package as the SDK's WebSocket: no compression (the server negotiates none)
 * and frames up to 16 MiB. Node.js's own global WebSocket works as well; `ws` is faster.
 */
export const nodeWebSocket: WebSocketConstructor = class extends WebSocket {
  constructor(url: string, protocols: string[]) {
    super(url, protocols, { maxPayload: 16 * 1024 * 1024, perMessageDeflate: false });
  }
} as unknown as WebSocketConstructor;

/**
 * Keeps the SDK's state in one JSON file (created with its folder when missing). Writes go
 * to a temporary file that then replaces the old one, so a crash leaves the old or the new
 * state, never half of one. One file per account and device.
 */
export function fileStorage(path: string): ParleyStorage {
  let values: Map<string, unknown> | null = null;
  let writing: Promise<void> = Promise.resolve();
  const load = async (): Promise<Map<string, unknown>> => {
    if (values) return values;
    try {
      values = new Map(Object.entries(JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      values = new Map();
    }
    return values;
  };
  const save = (): Promise<void> => {
    writing = writing.then(async () => {
      const snapshot = JSON.stringify(Object.fromEntries(await load()));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(`${path}.tmp`, snapshot);
      await rename(`${path}.tmp`, path);
    });
    return writing;
  };
  return {
    get: async (key) => (await load()).get(key),
    set: async (key, value) => {
      (await load()).set(key, structuredClone(value));
      await save();
    },
    delete: async (key) => {
      if ((await load()).delete(key)) await save();
    },
    keys: async (prefix) => [...(await load()).keys()].filter((key) => key.startsWith(prefix)).sort(),
  };
}
