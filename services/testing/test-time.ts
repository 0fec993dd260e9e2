/** Moves an adapter's clock forward; adapters on real time (a Redis server) have none. */
export type Advance = (ms: number) => void | Promise<void>;

/**
 * How contract tests let time pass. With `advance` time jumps instantly; without it the
 * tests run on real time with short TTLs, waiting out what they must and polling for
 * expiry rather than sleeping a guessed amount.
 */
export interface TestTime {
  /** A TTL for entries the test wants to see expire. */
  readonly ttlMs: number;
  /** Lets `ms` pass. */
  pass(ms: number): Promise<void>;
  /** Lets time pass until `condition` holds; fails when it does not within `withinMs`. */
  until(condition: () => Promise<boolean>, withinMs: number): Promise<void>;
}

const MANUAL_TTL_MS = 60_000;
const REAL_TTL_MS = 600;
const POLL_MS = 10;

export function testTime(advance: Advance | undefined): TestTime {
  if (advance) {
    const step = MANUAL_TTL_MS / 100;
    return {
      ttlMs: MANUAL_TTL_MS,
      pass: async (ms) => {
        await advance(ms);
      },
      until: async (condition, withinMs) => {
        for (let elapsed = 0; !(await condition()); elapsed += step) {
          if (elapsed >= withinMs) throw new Error(`condition still false after ${withinMs} ms`);
          await advance(step);
        }
      },
    };
  }
  return {
    ttlMs: REAL_TTL_MS,
    pass: (ms) => delay(ms),
    until: async (condition, withinMs) => {
      // Real servers expire keys a little late; allow for it.
      const deadline = Date.now() + withinMs * 2;
      while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`condition still false after ${withinMs * 2} ms`);
        await delay(POLL_MS);
      }
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
