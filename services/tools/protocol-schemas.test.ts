import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CLIENT_FRAME_TYPES } from "../protocol/frames.js";
import { repositoryRoot } from "./generate-config-docs.js";
import { PROTOCOL_FILES, protocolFiles } from "./protocol-schemas.js";

describe("the machine-readable protocol", () => {
  it("is what the generator writes: run `npm run generate:protocol` after changing a frame", () => {
    for (const [path, content] of Object.entries(protocolFiles())) {
      const committed = readFileSync(join(repositoryRoot(), path), "utf8");
      expect(committed, `${path} is stale: run npm run generate:protocol`).toBe(content);
    }
  });

  it("has a JSON Schema for every client frame, strict about unknown fields", () => {
    const schema = JSON.parse(protocolFiles()[PROTOCOL_FILES.clientFrames] ?? "{}") as { $defs: Record<string, { properties: { type: { const: string } }; additionalProperties: boolean }> };
    const types = Object.values(schema.$defs).map((frame) => frame.properties.type.const);
    expect(types.sort()).toEqual([...CLIENT_FRAME_TYPES].sort());
    for (const frame of Object.values(schema.$defs)) expect(frame.additionalProperties).toBe(false);
  });

  it("describes every server frame and names each in the AsyncAPI document", () => {
    const server = JSON.parse(protocolFiles()[PROTOCOL_FILES.serverFrames] ?? "{}") as { oneOf: { $ref: string }[] };
    expect(server.oneOf).toHaveLength(18);
    const asyncApi = parse(protocolFiles()[PROTOCOL_FILES.asyncApi] ?? "") as { asyncapi: string; channels: { gateway: { address: string; messages: Record<string, unknown> } } };
    expect(asyncApi.asyncapi).toBe("3.0.0");
    expect(asyncApi.channels.gateway.address).toBe("/ws");
    expect(Object.keys(asyncApi.channels.gateway.messages)).toHaveLength(CLIENT_FRAME_TYPES.length + 18);
  });
});
