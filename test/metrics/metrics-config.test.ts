import { describe, expect, it } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import { startServer } from "../e2e/server.js";
import { uniqueId } from "../support/redis.js";

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("metrics configuration", () => {
  it("serves /metrics on 9464 of the service's host by default", () => {
    expect(loadConfig({}).metrics).toEqual({ port: 9464, host: "127.0.0.1", refreshMs: 5_000, maxEvents: 100 });
    expect(loadConfig({ HOST: "0.0.0.0" }).metrics?.host).toBe("0.0.0.0");
    expect(Object.isFrozen(loadConfig({}).metrics)).toBe(true);
  });

  it("takes its own host, port (0 = any free port), refresh pause and event cap", () => {
    const config = loadConfig({ HOST: "0.0.0.0", METRICS_HOST: "127.0.0.1", METRICS_PORT: "0", METRICS_REFRESH_MS: "1000", METRICS_EVENTS_MAX: "7" });
    expect(config.metrics).toEqual({ port: 0, host: "127.0.0.1", refreshMs: 1_000, maxEvents: 7 });
  });

  it("is off with METRICS_PORT=off", () => {
    expect(loadConfig({ METRICS_PORT: "off" }).metrics).toBeUndefined();
  });

  it("refuses bad values, and a port the service already uses", () => {
    expect(problems({ METRICS_PORT: "no" })).toEqual(['METRICS_PORT must be a port from 0 to 65535 or "off", got "no"']);
    expect(problems({ METRICS_PORT: "70000", METRICS_REFRESH_MS: "5", METRICS_EVENTS_MAX: "0" }).map((p) => p.split(" ")[0])).toEqual([
      "METRICS_PORT",
      "METRICS_REFRESH_MS",
      "METRICS_EVENTS_MAX",
    ]);
    expect(problems({ METRICS_PORT: "8081" })).toEqual(["METRICS_PORT must differ from PORT and CONNECT_PORT, got 8081"]);
  });
});

describe("with METRICS_PORT=off", () => {
  it("the app has no metrics, no endpoint and no observers", async () => {
    const server = await startServer({ METRICS_PORT: "off" });
    try {
      expect(server.app.metrics).toBeUndefined();
      expect(server.metricsUrl).toBeUndefined();
      await server.client(QueueService).configureQueue({ eventId: uniqueId() });
    } finally {
      await server.stop();
    }
  });
});
