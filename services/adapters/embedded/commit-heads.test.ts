import { describe, expect, it } from "vitest";
import { CommitHeads } from "./commit-heads.js";

describe("CommitHeads", () => {
  function table(initial: Record<string, number>): { rows: Map<string, number>; reads: string[]; read: (key: string) => () => number | undefined; save: (key: string) => (value: number) => void } {
    const rows = new Map(Object.entries(initial));
    const reads: string[] = [];
    return {
      rows,
      reads,
      read: (key) => () => {
        reads.push(key);
        return rows.get(key);
      },
      save: (key) => (value) => rows.set(key, value),
    };
  }

  it("reads each head from its table once and writes only the last value, at the end", () => {
    const t = table({ a: 4 });
    const heads = new CommitHeads();
    for (let i = 0; i < 3; i++) {
      heads.beginWrite();
      heads.set("a", heads.get("a", t.read("a")) + 1, t.save("a"));
    }
    expect(t.rows.get("a")).toBe(4);
    heads.saveAll();
    expect(t.rows.get("a")).toBe(7);
    expect(t.reads).toEqual(["a"]);
  });

  it("puts back what a failed write advanced, so the next write goes on from the stored value", () => {
    const t = table({ a: 1 });
    const heads = new CommitHeads();
    heads.beginWrite();
    heads.set("a", heads.get("a", t.read("a")) + 1, t.save("a"));
    heads.beginWrite();
    heads.set("a", heads.get("a", t.read("a")) + 1, t.save("a"));
    heads.set("b", heads.get("b", t.read("b")) + 1, t.save("b"));
    heads.undoWrite();
    heads.beginWrite();
    expect(heads.get("a", t.read("a"))).toBe(2);
    expect(heads.get("b", t.read("b"))).toBe(0);
    heads.saveAll();
    expect(Object.fromEntries(t.rows)).toEqual({ a: 2 });
  });

  it("writes nothing back for heads that were only read", () => {
    const t = table({ a: 3 });
    const heads = new CommitHeads();
    heads.beginWrite();
    expect(heads.get("a", t.read("a"))).toBe(3);
    t.rows.delete("a");
    heads.saveAll();
    expect(t.rows.has("a")).toBe(false);
  });
});
