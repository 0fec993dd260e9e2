import { describe, expect, it } from "vitest";
import { groupShard, groupTopic } from "./topics.js";

const GROUPS = Array.from({ length: 1600 }, (_, n) => `g01JZ${String(n).padStart(22, "0")}`);

describe("group topics", () => {
  it("gives each group a topic of its own when PARLEY_GROUP_TOPICS is per-group", () => {
    expect(groupTopic("prod", "g01JZ0000000000000000000001", "per-group").name).toBe("parley.prod.group.g01JZ0000000000000000000001");
  });

  it("puts every message of a group on the same shared topic, whichever process publishes it", () => {
    // Fixed figures: publishers of different versions must agree on a group's shard.
    expect(GROUPS.slice(0, 4).map((groupId) => groupShard(groupId, 16))).toEqual([1, 14, 11, 8]);
    expect(groupTopic("prod", "g01JZ0000000000000000000001", 16).name).toBe("parley.prod.group-shard.14");
  });

  it("spreads groups over all shared topics, none with more than twice its share", () => {
    const counts = new Array<number>(16).fill(0);
    for (const groupId of GROUPS) counts[groupShard(groupId, 16)] = (counts[groupShard(groupId, 16)] ?? 0) + 1;
    expect(Math.min(...counts)).toBeGreaterThan(0);
    expect(Math.max(...counts)).toBeLessThanOrEqual((2 * GROUPS.length) / 16);
  });

  it("keeps shared topics outside the per-group family, which the operator manages group by group", () => {
    expect(groupTopic("prod", "g01JZ0000000000000000000001", 4).name.startsWith("parley.prod.group.")).toBe(false);
  });
});
