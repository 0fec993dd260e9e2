import { stringify } from "yaml";
import { z } from "zod";
import { ClientFrame, PROTOCOL_SUBPROTOCOL, PROTOCOL_VERSION } from "../protocol/frames.js";
import { ServerFrameSchema } from "../protocol/server-frames.js";

/** The generated files, relative to the repository root. */
export const PROTOCOL_FILES = {
  clientFrames: "docs/protocol/client-frames.schema.json",
  serverFrames: "docs/protocol/server-frames.schema.json",
  asyncApi: "docs/asyncapi.yaml",
} as const;

type JsonSchema = Record<string, unknown> & { $defs?: Record<string, JsonSchema>; oneOf?: JsonSchema[]; anyOf?: JsonSchema[]; properties?: Record<string, JsonSchema> };

/** `group.send` → `GroupSendFrame`. */
function frameName(type: string): string {
  return `${type
    .split(/[.]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("")}Frame`;
}

/** What a client may send, as JSON Schema (draft 2020-12): every frame the gateway's parser accepts. */
function clientFramesSchema(): JsonSchema {
  const $defs: Record<string, JsonSchema> = {};
  for (const option of ClientFrame.options) {
    $defs[frameName(option.def.shape.type.value)] = z.toJSONSchema(option, { io: "input", unrepresentable: "any" }) as JsonSchema;
  }
  for (const schema of Object.values($defs)) delete schema.$schema;
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://parley.dev/protocol/v1/client-frames.schema.json",
    title: `Parley protocol v${PROTOCOL_VERSION}: client frames`,
    description: "A frame a client sends on the WebSocket: one JSON object per text message. See docs/protocol.md section 4.",
    oneOf: Object.keys($defs).map((name) => ({ $ref: `#/$defs/${name}` })),
    $defs,
  };
}

/** What the server sends, as JSON Schema (draft 2020-12). */
function serverFramesSchema(): JsonSchema {
  const schema = z.toJSONSchema(ServerFrameSchema, { io: "output" }) as JsonSchema;
  const { $defs = {}, ...root } = schema;
  const serverRoot = $defs.ServerFrame ?? root;
  delete $defs.ServerFrame;
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://parley.dev/protocol/v1/server-frames.schema.json",
    title: `Parley protocol v${PROTOCOL_VERSION}: server frames`,
    description: "A frame the server sends on the WebSocket: replies (with the request's id), pushes, hello, reconnect. See docs/protocol.md section 5.",
    oneOf: serverRoot.oneOf ?? serverRoot.anyOf,
    $defs,
  };
}

/** The WebSocket API as an AsyncAPI 3.0 document, its schemas those of the two JSON Schema files. */
function asyncApiDocument(client: JsonSchema, server: JsonSchema): Record<string, unknown> {
  const toComponents = (value: unknown): unknown => JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/')) as unknown;
  const clientNames = Object.keys(client.$defs ?? {});
  const serverNames = ((server.oneOf ?? []) as { $ref: string }[]).map((entry) => entry.$ref.replace("#/$defs/", ""));
  const message = (name: string, direction: string): Record<string, unknown> => ({
    name,
    title: name.replace(/Frame$/, ""),
    summary: `${direction}; see docs/protocol.md`,
    contentType: "application/json",
    payload: { $ref: `#/components/schemas/${name}` },
  });
  const clash = clientNames.find((name) => serverNames.includes(name));
  if (clash !== undefined) throw new Error(`${clash} names a client and a server frame: give the server frame's schema another id`);
  const messages: Record<string, unknown> = {};
  for (const name of clientNames) messages[name] = message(name, "Client to server");
  for (const name of serverNames) messages[name] = message(name, "Server to client");
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Parley WebSocket API",
      version: String(PROTOCOL_VERSION),
      description:
        "Generated from services/protocol by `npm run generate:protocol`; do not edit. The prose, with examples, ordering rules and error handling, is docs/protocol.md.",
      license: { name: "Apache-2.0" },
    },
    servers: {
      dev: {
        host: "127.0.0.1:8080",
        protocol: "ws",
        description: "`parley dev`",
        security: [{ $ref: "#/components/securitySchemes/bearerHeader" }, { $ref: "#/components/securitySchemes/bearerSubprotocol" }],
      },
    },
    channels: {
      gateway: {
        address: "/ws",
        title: "The gateway connection",
        description: `One WebSocket per device, subprotocol ${PROTOCOL_SUBPROTOCOL}. The server sends hello first; every client frame gets one reply with its id.`,
        messages: Object.fromEntries(Object.keys(messages).map((name) => [name, { $ref: `#/components/messages/${name}` }])),
        bindings: {
          ws: {
            method: "GET",
            query: { type: "object", properties: { device: { type: "string", pattern: "^[A-Za-z0-9_.-]{1,64}$", description: "this installation's device id" } } },
            bindingVersion: "0.1.0",
          },
        },
      },
    },
    operations: {
      receiveClientFrames: {
        action: "receive",
        channel: { $ref: "#/channels/gateway" },
        summary: "Frames the server accepts from a client.",
        messages: clientNames.map((name) => ({ $ref: `#/channels/gateway/messages/${name}` })),
      },
      sendServerFrames: {
        action: "send",
        channel: { $ref: "#/channels/gateway" },
        summary: "Frames the server sends: hello, replies, pushes, reconnect and reauthenticate.",
        messages: serverNames.map((name) => ({ $ref: `#/channels/gateway/messages/${name}` })),
      },
    },
    components: {
      securitySchemes: {
        bearerHeader: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "Authorization: Bearer <token> on the upgrade request." },
        bearerSubprotocol: {
          type: "httpApiKey",
          name: "Sec-WebSocket-Protocol",
          in: "header",
          description: "Browsers: offer parley.bearer.<token> as a second subprotocol next to parley.v1.",
        },
      },
      messages,
      schemas: toComponents({ ...client.$defs, ...server.$defs }),
    },
  };
}

/** Every generated file and its content. */
export function protocolFiles(): Record<string, string> {
  const client = clientFramesSchema();
  const server = serverFramesSchema();
  return {
    [PROTOCOL_FILES.clientFrames]: `${JSON.stringify(client, null, 2)}\n`,
    [PROTOCOL_FILES.serverFrames]: `${JSON.stringify(server, null, 2)}\n`,
    [PROTOCOL_FILES.asyncApi]: `# Generated by \`npm run generate:protocol\` from services/protocol; do not edit.\n${stringify(asyncApiDocument(client, server), { lineWidth: 0 })}`,
  };
}
