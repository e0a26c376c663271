import { randomUUID } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import { inject } from "vitest";
import type {} from "./provided-context.js";

/** URL of the Redis server chosen by the global setup for this run. */
export function redisUrl(): string {
  return inject("redisUrl");
}

/**
 * A new ioredis client for the shared test server. The caller owns it and
 * registers its cleanup where it is created, e.g.
 * `onTestFinished(() => redis.quit())` in a test or `afterAll(...)` in a file.
 */
export function connectRedis(options: RedisOptions = {}): Redis {
  return new Redis(redisUrl(), options);
}

/**
 * A fresh `<prefix>-<uuid>` id (41 characters with the default prefix, within
 * the 64 allowed for event and user ids). Every test works under its own ids,
 * so files run in parallel against one server and nothing is ever flushed.
 */
export function uniqueId(prefix = "test"): string {
  return `${prefix}-${randomUUID()}`;
}
