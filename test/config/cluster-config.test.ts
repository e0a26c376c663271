import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("REDIS_CLUSTER_NODES", () => {
  it("is unset by default: one Redis server", () => {
    expect(loadConfig({}).redisClusterNodes).toBeUndefined();
    expect(loadConfig({ REDIS_CLUSTER_NODES: " " }).redisClusterNodes).toBeUndefined();
  });

  it("reads host:port seeds, IPv6 in brackets, frozen", () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b.internal:7001,[::1]:7002" });
    expect(config.redisClusterNodes).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "redis-b.internal", port: 7001 },
      { host: "::1", port: 7002 },
    ]);
    expect(Object.isFrozen(config.redisClusterNodes)).toBe(true);
    expect(config.redisUrl).toBeUndefined();
  });

  it("names every malformed entry, and refuses REDIS_URL beside it", () => {
    expect(problems({ REDIS_CLUSTER_NODES: "a:1,b,c:99999,redis://d:7000" })).toEqual([
      'REDIS_CLUSTER_NODES entries must be host:port, got "b"',
      'REDIS_CLUSTER_NODES entries must be host:port, got "c:99999"',
      'REDIS_CLUSTER_NODES entries must be host:port, got "redis://d:7000"',
    ]);
    expect(problems({ REDIS_CLUSTER_NODES: "a:7000", REDIS_URL: "redis://b:6379" })).toEqual(["REDIS_URL and REDIS_CLUSTER_NODES are both set; use one"]);
  });

  it("goes with REDIS_WAIT_REPLICAS: sales wait for the replicas of their event's shard", () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: "a:7000", REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT_MS: "250" });
    expect(config.redisWait).toEqual({ replicas: 1, timeoutMs: 250 });
    expect(config.redisClusterNodes).toEqual([{ host: "a", port: 7000 }]);
  });

  it("stands in for REDIS_URL in production", () => {
    const config = loadConfig({
      NODE_ENV: "production",
      AUTH_TOKENS: `admin:${"a".repeat(32)}`,
      PASS_KEYS: `k1:${"k".repeat(32)}`,
      REDIS_CLUSTER_NODES: "redis-a:7000,redis-b:7000",
    });
    expect(config.redisClusterNodes).toHaveLength(2);
  });
});
