import pino from "pino";
import { describe, expect, it, onTestFinished } from "vitest";
import { createRedisClient, MAX_RECONNECT_DELAY_MS, reconnectDelayMs } from "../../src/redis/redis-client.js";
import { startOwnRedis } from "../support/own-redis.js";
import { uniqueId } from "../support/redis.js";

const logger = pino({ level: "silent" });

describe("createRedisClient", () => {
  it("never sends a command twice: one that timed out is not replayed on the connection that replaces it", async () => {
    const own = await startOwnRedis();
    onTestFinished(() => own.stop());
    const redis = createRedisClient(own.url, { commandTimeoutMs: 200, logger });
    onTestFinished(() => redis.disconnect());
    await redis.connect();
    const key = uniqueId();

    own.freeze();
    await expect(redis.incr(key)).rejects.toThrow("Command timed out");
    // Killed while frozen, the old server never ran it; a fresh one takes its port.
    const closed = new Promise((resolve) => redis.once("close", resolve));
    await own.kill();
    await closed;
    const ready = new Promise((resolve) => redis.once("ready", resolve));
    await own.restart();
    await ready;
    expect(await redis.get(key)).toBeNull();
  });

  it("refuses commands at once while disconnected, and is back once Redis is", async () => {
    const own = await startOwnRedis();
    onTestFinished(() => own.stop());
    const redis = createRedisClient(own.url, { commandTimeoutMs: 1000, logger });
    onTestFinished(() => redis.disconnect());
    await redis.connect();
    const closed = new Promise((resolve) => redis.once("close", resolve));
    await own.kill();
    await closed;
    await expect(redis.ping()).rejects.toThrow("Stream isn't writeable");
    const ready = new Promise((resolve) => redis.once("ready", resolve));
    await own.restart();
    await ready;
    expect(await redis.ping()).toBe("PONG");
  });

  it("reconnects a little later on each attempt, never more than the cap apart", () => {
    const delays = Array.from({ length: 10 }, (_, i) => reconnectDelayMs(i + 1));
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(Math.max(...delays)).toBe(MAX_RECONNECT_DELAY_MS);
    expect(delays[0]).toBeGreaterThan(0);
  });
});
