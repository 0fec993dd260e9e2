/** Listeners are kept untyped; `on` and `emit` check the types. */
type AnyListener = (...args: unknown[]) => void;

/**
 * A small typed event emitter that runs anywhere (Node's `events` module is not in
 * browsers). A listener that throws is reported to `error` listeners, never to the emitter.
 */
export class TypedEmitter<Events extends Record<keyof Events, unknown[]>> {
  private readonly listeners = new Map<keyof Events, Set<AnyListener>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as unknown as AnyListener);
    return () => { this.off(event, listener); };
  }

  /** Adds a listener that runs once. */
  once<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): () => void {
    const remove = this.on(event, (...args) => {
      remove();
      listener(...args);
    });
    return remove;
  }

  off<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): void {
    this.listeners.get(event)?.delete(listener as unknown as AnyListener);
  }

  /** Resolves with the arguments of the next `event`. */
  next<K extends keyof Events>(event: K): Promise<Events[K]> {
    return new Promise((resolve) => this.once(event, (...args) => { resolve(args); }));
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as unknown as (...args: Events[K]) => void)(...args);
      } catch (error) {
        if (event === "error") reportListenerError(error);
        else this.emit("error" as K, ...([error instanceof Error ? error : new Error(String(error))] as Events[K]));
      }
    }
  }
}

/**
 * An `error` listener that throws has nowhere left to report to. Throwing into emit()
 * would break the SDK code that emitted (often a promise handler: an unhandled
 * rejection far from the cause) and skip the remaining listeners. Browsers treat a
 * throwing DOM event listener the same way: `reportError` hands it to window.onerror
 * and the console, and dispatch carries on, which is what a browser app expects.
 * Node.js has no reportError; there it goes to console.error rather than
 * crashing the process as an uncaught exception.
 */
function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof report === "function") report(error);
  else console.error("an error listener of the Parley SDK threw:", error);
}
