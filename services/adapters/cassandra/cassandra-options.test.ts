import { describe, expect, it } from "vitest";
import { isTransient, settleWithin, StatementDeadlineError } from "./cassandra-options.js";

describe("settleWithin", () => {
  it("fails a statement that never settles with a transient StatementDeadlineError", async () => {
    const never = new Promise<never>(() => undefined);
    const error = await settleWithin(never, 20).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(StatementDeadlineError);
    expect(isTransient(error)).toBe(true);
  });

  it("passes on a statement's own answer or error", async () => {
    await expect(settleWithin(Promise.resolve(7), 1_000)).resolves.toBe(7);
    await expect(settleWithin(Promise.reject(new Error("syntax error")), 1_000)).rejects.toThrow("syntax error");
  });
});
