import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, SETTINGS, type SettingName } from "./config.js";

/** The ConfigError loadConfig throws; fails the test when it throws nothing or something else. */
function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}

describe("loadConfig", () => {
  it("uses every setting's default when nothing is set", () => {
    const config = loadConfig({}, {});
    for (const name of Object.keys(SETTINGS) as SettingName[]) {
      expect(config[name], name).toEqual(SETTINGS[name].default);
    }
    expect(config).toMatchObject({ host: "127.0.0.1", port: 8080, dataDir: "./.parley", logLevel: "info", clusterName: "dev" });
    expect(config.jwtSecret).toBeUndefined();
  });

  it("does not read process.env when given an environment", () => {
    const saved = process.env.PARLEY_HOST;
    process.env.PARLEY_HOST = "10.9.9.9";
    try {
      expect(loadConfig({}, {}).host).toBe("127.0.0.1");
    } finally {
      if (saved === undefined) delete process.env.PARLEY_HOST;
      else process.env.PARLEY_HOST = saved;
    }
  });

  it("takes values from the environment, converting numbers", () => {
    const config = loadConfig({}, { PARLEY_HOST: "0.0.0.0", PARLEY_LOG_LEVEL: "debug", PARLEY_FRAMES_PER_SECOND: "2.5", PARLEY_MAX_CONNECTIONS: "10" });
    expect(config).toMatchObject({ host: "0.0.0.0", logLevel: "debug", framesPerSecond: 2.5, maxConnections: 10 });
  });

  it("lets a flag beat the environment", () => {
    const config = loadConfig({ port: "9000", host: "::1" }, { PORT: "7000", PARLEY_PORT: "7001", PARLEY_HOST: "0.0.0.0" });
    expect(config.port).toBe(9000);
    expect(config.host).toBe("::1");
  });

  it("reads the port from PORT or PARLEY_PORT, PORT first", () => {
    expect(loadConfig({}, { PORT: "7000" }).port).toBe(7000);
    expect(loadConfig({}, { PARLEY_PORT: "7001" }).port).toBe(7001);
    expect(loadConfig({}, { PORT: "7000", PARLEY_PORT: "7001" }).port).toBe(7000);
  });

  it("treats an empty variable as unset", () => {
    expect(loadConfig({}, { PORT: "", PARLEY_PORT: "7001" }).port).toBe(7001);
    expect(loadConfig({}, { PARLEY_HOST: "" }).host).toBe("127.0.0.1");
  });

  it("accepts a JWT secret of 32 characters", () => {
    expect(loadConfig({}, { PARLEY_JWT_SECRET: "s".repeat(32) }).jwtSecret).toBe("s".repeat(32));
  });

  it("reports every bad value at once, naming where each came from", () => {
    const error = configError(() =>
      loadConfig(
        { port: "80x", logLevel: "loud" },
        { PARLEY_PORT: "1", PARLEY_JWT_SECRET: "too-short", PARLEY_CLUSTER: "Not_A_Label", PARLEY_MAX_FRAME_BYTES: "10" },
      ),
    );
    expect(error.problems).toHaveLength(5);
    const bySource = (source: string): string | undefined => error.problems.find((p) => p.startsWith(`${source}:`));
    expect(bySource("--port")).toContain('"80x"');
    expect(bySource("--log-level")).toContain('"loud"');
    expect(bySource("PARLEY_JWT_SECRET")).toContain("at least 32 characters");
    expect(bySource("PARLEY_CLUSTER")).toContain("DNS label");
    expect(bySource("PARLEY_MAX_FRAME_BYTES")).toContain('"10"');
    for (const problem of error.problems) expect(error.message).toContain(problem);
  });

  it("names the variable a bad port came from", () => {
    expect(configError(() => loadConfig({}, { PARLEY_PORT: "65536" })).problems).toEqual([expect.stringMatching(/^PARLEY_PORT: /)]);
    expect(configError(() => loadConfig({}, { PORT: "http" })).problems).toEqual([expect.stringMatching(/^PORT: .*"http"/)]);
  });

  it("names the setting for a flag-less setting given as a flag", () => {
    expect(configError(() => loadConfig({ clusterName: "UPPER" }, {})).problems).toEqual([expect.stringMatching(/^clusterName: /)]);
  });

  it.each([
    ["PARLEY_PORT", "-1"],
    ["PARLEY_PORT", "1.5"],
    ["PARLEY_LOG_LEVEL", "INFO"],
    ["PARLEY_GATEWAY_ID", "gw/1"],
    ["PARLEY_FRAMES_PER_SECOND", "0"],
    ["PARLEY_FRAME_BURST", "0"],
    ["PARLEY_HEARTBEAT_INTERVAL_MS", "99"],
    ["PARLEY_SEND_BUFFER_BYTES", "1024"],
  ])("refuses %s=%s", (variable, value) => {
    expect(configError(() => loadConfig({}, { [variable]: value })).problems).toEqual([expect.stringMatching(new RegExp(`^${variable}: `))]);
  });
});
