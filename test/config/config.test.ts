import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("loadConfig", () => {
  it("takes the documented defaults and a random development pass key", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, connectPort: 8081, host: "127.0.0.1", redisUrl: undefined, redisKeyPrefix: "bo:" });
    expect(config).toMatchObject({ watchIntervalMs: 250, sweepIntervalMs: 1000, admitIntervalMs: 250, passKeysGenerated: true });
    expect(config.passKeys.kids).toEqual(["dev"]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("lists every problem at once and never echoes a secret", () => {
    const secret = "s3cr3t-value-that-is-too-short";
    let error: unknown;
    try {
      loadConfig({ PORT: "http", CONNECT_PORT: "99999", WATCH_INTERVAL_MS: "5", REDIS_URL: "localhost:6379", LOG_LEVEL: "loud", PASS_KEYS: `k1:${secret}` });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.split(" ")[0])).toEqual(["PORT", "CONNECT_PORT", "REDIS_URL", "LOG_LEVEL", "WATCH_INTERVAL_MS", "PASS_KEYS:"]);
    expect((error as ConfigError).message).not.toContain(secret);
  });

  it("reads rotated pass keys in order: the first signs", () => {
    const config = loadConfig({ PASS_KEYS: `new:${"n".repeat(32)},old:${"o".repeat(32)}`, ADMIT_INTERVAL_MS: "0" });
    expect(config.passKeys.kids).toEqual(["new", "old"]);
    expect(config.passKeys.signingKid).toBe("new");
    expect(config.admitIntervalMs).toBe(0);
    expect(config.passKeysGenerated).toBe(false);
  });

  it("bounds Redis commands and paces the Redis health monitor", () => {
    expect(loadConfig({})).toMatchObject({ redisCommandTimeoutMs: 1000, redisHealthIntervalMs: 500 });
    expect(loadConfig({ REDIS_COMMAND_TIMEOUT_MS: "250", REDIS_HEALTH_INTERVAL_MS: "100" })).toMatchObject({
      redisCommandTimeoutMs: 250,
      redisHealthIntervalMs: 100,
    });
    let error: unknown;
    try {
      loadConfig({ REDIS_COMMAND_TIMEOUT_MS: "0", REDIS_HEALTH_INTERVAL_MS: "soon" });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).problems.map((p) => p.split(" ")[0])).toEqual(["REDIS_COMMAND_TIMEOUT_MS", "REDIS_HEALTH_INTERVAL_MS"]);
  });
});
