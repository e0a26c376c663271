import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("loadConfig", () => {
  it("takes the documented defaults and a random development pass key", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, connectPort: 8081, host: "127.0.0.1", redisUrl: undefined, redisKeyPrefix: "bo:" });
    expect(config).toMatchObject({ watchIntervalMs: 250, sweepIntervalMs: 1000, admitIntervalMs: 250, passKeysGenerated: true });
    expect(config.feedRetentionMs).toBe(24 * 3_600_000);
    expect(config.passKeys.kids).toEqual(["dev"]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("lists every problem at once and never echoes a secret", () => {
    const secret = "s3cr3t-value-that-is-too-short";
    let error: unknown;
    try {
      loadConfig({
        PORT: "http",
        CONNECT_PORT: "99999",
        WATCH_INTERVAL_MS: "5",
        REDIS_URL: "localhost:6379",
        LOG_LEVEL: "loud",
        FEED_RETENTION_HOURS: "0",
        PASS_KEYS: `k1:${secret}`,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.split(" ")[0])).toEqual(["PORT", "CONNECT_PORT", "REDIS_URL", "LOG_LEVEL", "WATCH_INTERVAL_MS", "FEED_RETENTION_HOURS", "PASS_KEYS:"]);
    expect((error as ConfigError).message).not.toContain(secret);
  });

  it("reads rotated pass keys in order: the first signs", () => {
    const config = loadConfig({ PASS_KEYS: `new:${"n".repeat(32)},old:${"o".repeat(32)}`, ADMIT_INTERVAL_MS: "0" });
    expect(config.passKeys.kids).toEqual(["new", "old"]);
    expect(config.passKeys.signingKid).toBe("new");
    expect(config.admitIntervalMs).toBe(0);
    expect(loadConfig({ FEED_RETENTION_HOURS: "2" }).feedRetentionMs).toBe(7_200_000);
    expect(config.passKeysGenerated).toBe(false);
  });
});
