import { describe, expect, it } from "vitest";
import { ConversationId, directConversationId, directPair, directParticipants } from "./ids.js";

describe("directConversationId", () => {
  it("names a conversation the same from both sides", () => {
    expect(directConversationId("alice", "bob")).toBe("dm:alice:bob");
    expect(directConversationId("bob", "alice")).toBe("dm:alice:bob");
  });

  it("sorts by code unit, so case and punctuation give one stable order", () => {
    expect(directConversationId("bob", "Zed")).toBe(directConversationId("Zed", "bob"));
    expect(directConversationId("a.b@c", "a-b")).toBe("dm:a-b:a.b@c");
  });

  it("names a note to self", () => {
    expect(directConversationId("alice", "alice")).toBe("dm:alice:alice");
  });

  it("produces ids the ConversationId schema accepts, even for the longest user ids", () => {
    const long = "x".repeat(64);
    expect(ConversationId.safeParse(directConversationId(long, "y".repeat(64))).success).toBe(true);
    expect(ConversationId.safeParse(directConversationId("alice", "bob")).success).toBe(true);
  });
});

describe("directParticipants", () => {
  it("returns the two participants of a direct conversation", () => {
    expect(directParticipants("dm:alice:bob")).toEqual(["alice", "bob"]);
    expect(directParticipants("dm:alice:alice")).toEqual(["alice", "alice"]);
  });

  it("inverts directConversationId", () => {
    for (const [a, b] of [
      ["alice", "bob"],
      ["bob", "alice"],
      ["u_1.x@example.org", "U-2"],
    ] as const) {
      expect(directParticipants(directConversationId(a, b))).toEqual([a, b].sort());
    }
  });

  it.each([
    ["an empty string", ""],
    ["unsorted participants", "dm:bob:alice"],
    ["one participant", "dm:alice"],
    ["three participants", "dm:alice:bob:carol"],
    ["another prefix", "gm:alice:bob"],
    ["an upper-case prefix", "DM:alice:bob"],
    ["an empty participant", "dm::bob"],
    ["an empty second participant", "dm:alice:"],
    ["a user id with a space", "dm:alice smith:bob"],
    ["a user id with a slash", "dm:alice:bob/x"],
    ["a user id over 64 characters", `dm:${"a".repeat(65)}:bob`],
  ])("rejects %s", (_, id) => {
    expect(directParticipants(id)).toBeNull();
  });
});

describe("directPair", () => {
  it("names the participants in the order of the conversation id, once each", () => {
    expect(directPair("bob", "alice")).toEqual(directParticipants(directConversationId("bob", "alice")));
    expect(directPair("alice", "bob")).toEqual(["alice", "bob"]);
    expect(directPair("alice", "alice")).toEqual(["alice"]);
  });
});
