import type { Redis } from "ioredis";
import pino from "pino";
import { onTestFinished } from "vitest";
import { Admitter, type AdmitterOptions } from "../../src/queue/admitter.js";
import { ticketBucketKey } from "../../src/queue/keys.js";
import { QueueStore } from "../../src/queue/queue-store.js";
import { QueueDefaults } from "../../src/queue/scripts.js";
import type { WatchCadence } from "../../src/queue/position-walk.js";
import { positionWatch, type PositionHub } from "../../src/queue/position-watch.js";
import { OutboxReader } from "../../src/watch/outbox-reader.js";
import { WatchHub } from "../../src/watch/watch-hub.js";
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

export interface TestHubOptions {
  readonly intervalMs: number;
  /** Most outbox entries one read applies before the loop resyncs. */
  readonly maxChangesPerTick: number;
  readonly batchSize: number;
  /** Most tick script calls a tick sends to read the pre-queue again after the opening (default 64). */
  readonly rereadBatches: number;
  /** The loop's clock (default `Date.now`). */
  readonly now: () => number;
  /** Which position changes are sent at once (default: every one). */
  readonly cadence: WatchCadence;
}

/** A WatchPosition hub over the fixture's store, fed by an outbox reader of its own. */
export function testWatch(f: QueueFixture, overrides: Partial<TestHubOptions> = {}): { hub: PositionHub; reader: OutboxReader } {
  const logger = pino({ level: "silent" });
  const reader = new OutboxReader(f.redis, {
    keyPrefix: f.keyPrefix,
    intervalMs: overrides.intervalMs ?? 20,
    maxEntriesPerRead: overrides.maxChangesPerTick ?? 1000,
    logger,
  });
  // Before the fixture's connection closes: no read may race its QUIT.
  onTestFinished(() => reader.close());
  const hub = new WatchHub(reader, positionWatch(f.store, { batchSize: overrides.batchSize ?? 500, rereadBatches: overrides.rereadBatches, logger, now: overrides.now, cadence: overrides.cadence }));
  return { hub, reader };
}

export function testHub(f: QueueFixture, overrides: Partial<TestHubOptions> = {}): PositionHub {
  return testWatch(f, overrides).hub;
}

/** A ticket record as stored (see `lua/queue-lib.lua`), read straight from its bucket. */
export interface StoredTicket {
  readonly state: number;
  readonly seq: number;
  readonly joinedMs: number;
  /** Waiting tickets: the last presence. */
  readonly seenMs?: number;
  readonly issuedMs?: number;
  readonly expiresMs?: number;
}

export async function storedTicket(f: QueueFixture, userId: string, eventId = f.eventId): Promise<StoredTicket | undefined> {
  const key = ticketBucketKey(f.store.keys(eventId), userId, QueueDefaults.ticketBuckets);
  const raw = await f.redis.hgetBuffer(key, userId);
  if (!raw) return undefined;
  const base = { state: raw.readUInt8(0), seq: raw.readUInt32BE(1), joinedMs: raw.readUIntBE(5, 6) };
  switch (raw.length) {
    case 11:
      return base;
    case 17:
      return { ...base, seenMs: raw.readUIntBE(11, 6) };
    case 23:
      return { ...base, issuedMs: raw.readUIntBE(11, 6), expiresMs: raw.readUIntBE(17, 6) };
    default:
      throw new Error(`ticket of ${userId} has ${raw.length} bytes`);
  }
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
