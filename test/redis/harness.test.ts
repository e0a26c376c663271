import { describe, expect, it, onTestFinished } from "vitest";
import { connectRedis, redisUrl, uniqueId } from "../support/redis.js";

describe("test harness", () => {
  it("provides a Redis URL that answers PING", async () => {
    expect(redisUrl()).toMatch(/^rediss?:\/\//);
    const redis = connectRedis();
    onTestFinished(() => redis.disconnect());
    expect(await redis.ping()).toBe("PONG");
  });

  it("hands out distinct ids that are valid event and user ids", () => {
    const ids = new Set(Array.from({ length: 100 }, () => uniqueId()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^test-[0-9a-f-]{36}$/);
    expect(uniqueId("event")).toMatch(/^event-[0-9a-f-]{36}$/);
  });
});
