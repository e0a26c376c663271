import type { Redis } from "ioredis";
import pino from "pino";
import { onTestFinished } from "vitest";
import { Admitter, type AdmitterOptions } from "../../src/queue/admitter.js";
import { QueueStore } from "../../src/queue/queue-store.js";
import { WatchHub } from "../../src/queue/watch-hub.js";
import { connectRedis, uniqueId } from "../support/redis.js";

/** A store over the test Redis with a clock the test moves by hand. */
export interface QueueFixture {
  readonly redis: Redis;
  readonly store: QueueStore;
  readonly eventId: string;
  /**
   * This test's own key prefix, so the event index holds only this test's
   * events: an admitter or sweeper of the test (or of a server another test
   * file runs) never touches another test's line.
   */
  readonly keyPrefix: string;
  /** Moves the scripts' clock (added to Redis TIME); negative moves it back. */
  advance(ms: number): void;
  /** Another store on its own connection, with this fixture's prefix and clock: a second server instance. */
  connectStore(): QueueStore;
  /** An admitter over `store` (default: the fixture's); tests drive it with `tickAll()`. */
  admitter(store?: QueueStore, options?: Partial<AdmitterOptions>): Admitter;
}

export interface QueueFixtureOptions {
  /** Seeds of the opening shuffle, one per admission call (the store's default is random). */
  readonly shuffleSeeds?: () => number;
}

export async function queueFixture(options: QueueFixtureOptions = {}): Promise<QueueFixture> {
  const keyPrefix = `${uniqueId("p")}:`;
  let skew = 0;
  const storeOptions = { keyPrefix, clockSkewMs: () => skew, ...options };
  const connectStore = (): QueueStore => {
    const redis = connectRedis();
    onTestFinished(async () => {
      await redis.quit();
    });
    return new QueueStore(redis, storeOptions);
  };
  const redis = connectRedis();
  onTestFinished(async () => {
    await redis.quit();
  });
  const store = new QueueStore(redis, storeOptions);
  return {
    redis,
    store,
    eventId: uniqueId(),
    keyPrefix,
    advance(ms) {
      skew += ms;
    },
    connectStore,
    admitter(over = store, options = {}) {
      return new Admitter(over, { logger: pino({ level: "silent" }), ...options });
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

/** Redis's clock in epoch ms (what the scripts read, before the fixture's skew). */
export async function redisNowMs(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** The queue entries of an event's outbox, oldest first, each as a field map. */
export async function queueLog(f: QueueFixture, eventId = f.eventId): Promise<Array<Record<string, string>>> {
  const entries = await f.redis.xrange(f.store.keys(eventId).log, "-", "+");
  return entries
    .map(([, flat]) => {
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) {
        fields[flat[i] as string] = flat[i + 1] as string;
      }
      return fields;
    })
    .filter((fields) => fields["type"]?.startsWith("queue."));
}
