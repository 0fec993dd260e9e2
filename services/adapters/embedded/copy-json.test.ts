import { describe, expect, it } from "vitest";
import { copyJson } from "./copy-json.js";

describe("copyJson", () => {
  it("gives the receiver objects of its own, equal to what was sent", () => {
    const sent = { frame: { type: "event", ids: ["a", "b"], nested: { n: 1, ok: true, none: null } } };
    const copy = copyJson(sent);
    expect(copy).toEqual(sent);
    sent.frame.ids.push("c");
    sent.frame.nested.n = 2;
    expect(copy).toEqual({ frame: { type: "event", ids: ["a", "b"], nested: { n: 1, ok: true, none: null } } });
  });

  it("leaves out undefined fields and turns a Date into its ISO text, as a JSON round trip does", () => {
    const at = new Date("2026-01-02T03:04:05.000Z");
    const sent = { at, missing: undefined } as unknown as Parameters<typeof copyJson>[0];
    expect(copyJson(sent)).toEqual(JSON.parse(JSON.stringify(sent)));
  });
});
