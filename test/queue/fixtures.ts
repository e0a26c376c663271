import type { Redis } from "ioredis";
import pino from "pino";
import { onTestFinished } from "vitest";
import { QueueStore } from "../../src/queue/queue-store.js";
import { WatchHub } from "../../src/queue/watch-hub.js";
import { connectRedis, uniqueId } from "../support/redis.js";

/** A store over the test Redis with a clock the test moves by hand. */
export interface QueueFixture {
  readonly redis: Redis;
  readonly store: QueueStore;
  readonly eventId: string;
  /** Moves the scripts' clock forward (added to Redis TIME). */
  advance(ms: number): void;
}

export async function queueFixture(): Promise<QueueFixture> {
  const redis = connectRedis();
  onTestFinished(async () => {
    await redis.quit();
  });
  let skew = 0;
  const store = new QueueStore(redis, { clockSkewMs: () => skew });
  return {
    redis,
    store,
    eventId: uniqueId(),
    advance(ms) {
      skew += ms;
    },
  };
}

export function testHub(store: QueueStore, overrides: Partial<ConstructorParameters<typeof WatchHub>[1]> = {}): WatchHub {
  return new WatchHub(store, {
    intervalMs: 20,
    maxChangesPerTick: 1000,
    batchSize: 500,
    logger: pino({ level: "silent" }),
    ...overrides,
  });
}
