import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../runtime/config.js";
import { createLogger } from "../runtime/logger.js";
import { serve } from "./serve.js";

const logger = createLogger("silent");

describe("parley serve", () => {
  it("refuses to start without the token secret", async () => {
    const config = loadConfig({ port: "0" }, {});
    await expect(serve("chat", config, logger)).rejects.toThrow(/PARLEY_JWT_SECRET/);
  });

  it("names every missing back-end setting at once, before connecting to anything", async () => {
    const config = loadConfig({ port: "0" }, { PARLEY_JWT_SECRET: "x".repeat(32) });
    const error = await serve("gateway", config, logger).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ["PARLEY_KAFKA_BROKERS", "PARLEY_CASSANDRA_CONTACT_POINTS", "PARLEY_REDIS_URL or PARLEY_REDIS_CLUSTER_NODES", "PARLEY_S3_ENDPOINT"]) {
      expect(message).toContain(name);
    }
    // No static S3 keys is a valid choice: the pod's AWS identity signs instead.
    expect(message).not.toContain("PARLEY_S3_ACCESS_KEY");
  });

  it("refuses one static S3 key without the other", async () => {
    const config = loadConfig({ port: "0" }, { PARLEY_JWT_SECRET: "x".repeat(32), PARLEY_S3_ACCESS_KEY: "parley" });
    await expect(serve("chat", config, logger)).rejects.toThrow(/PARLEY_S3_ACCESS_KEY and PARLEY_S3_SECRET_KEY: set both, or neither/);
  });

  it("refuses both Redis forms at once", async () => {
    const config = loadConfig(
      { port: "0" },
      { PARLEY_JWT_SECRET: "x".repeat(32), PARLEY_REDIS_URL: "redis://127.0.0.1:1", PARLEY_REDIS_CLUSTER_NODES: "127.0.0.1:2" },
    );
    await expect(serve("chat", config, logger)).rejects.toThrow(/set exactly one/);
  });
});
