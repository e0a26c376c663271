import type { Redis } from "ioredis";
import { onTestFinished } from "vitest";
import { QueueStore } from "../../src/queue/queue-store.js";
import { SeatStore } from "../../src/seats/seat-store.js";
import { connectRedis, uniqueId } from "../support/redis.js";

/** Both stores of one event over the test Redis, sharing a key prefix of their own and a clock the test moves. */
export interface OutboxFixture {
  readonly redis: Redis;
  readonly queue: QueueStore;
  readonly seats: SeatStore;
  readonly eventId: string;
  readonly keyPrefix: string;
  readonly log: string;
  /** Moves the scripts' clock (and the stores' retention clock) forward. */
  advance(ms: number): void;
}

export function outboxFixture(options: { readonly retentionMs?: number } = {}): OutboxFixture {
  const redis = connectRedis();
  onTestFinished(async () => {
    await redis.quit();
  });
  let skew = 0;
  const storeOptions = { keyPrefix: `${uniqueId("p")}:`, clockSkewMs: () => skew, ...options };
  const queue = new QueueStore(redis, storeOptions);
  const eventId = uniqueId();
  return {
    redis,
    queue,
    seats: new SeatStore(redis, storeOptions),
    eventId,
    keyPrefix: storeOptions.keyPrefix,
    log: queue.keys(eventId).log,
    advance(ms) {
      skew += ms;
    },
  };
}

export type Entry = Record<string, string>;

/** Outbox entries after `after` (an entry id; "-" = all), oldest first, each with its id. */
export async function entriesAfter(f: OutboxFixture, after = "-"): Promise<Array<{ id: string; fields: Entry }>> {
  const entries = await f.redis.xrange(f.log, after === "-" ? "-" : `(${after}`, "+");
  return entries.map(([id, flat]) => {
    const fields: Entry = {};
    for (let i = 0; i + 1 < flat.length; i += 2) {
      fields[flat[i] as string] = flat[i + 1] as string;
    }
    return { id, fields };
  });
}

/** Id of the newest entry, "0-0" when the outbox is empty or missing. */
export async function newestId(f: OutboxFixture): Promise<string> {
  const [newest] = await f.redis.xrevrange(f.log, "+", "-", "COUNT", 1);
  return newest?.[0] ?? "0-0";
}
