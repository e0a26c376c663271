import type { RedisConnection } from "../redis/redis-cluster.js";
import { OutboxEntry, STREAM_START } from "../redis/outbox-entry.js";

/** What one read of an event's outbox found after the reader's cursor. */
export type OutboxRead =
  | {
      readonly kind: "entries";
      /** New entries, oldest first; empty when nothing changed. */
      readonly entries: readonly OutboxEntry[];
      /** The reader's cursor after the read: the last entry's id, or the previous cursor. */
      readonly cursor: string;
    }
  | {
      /**
       * Entries were lost to retention (the cursor was trimmed away) or more
       * arrived than one read takes: the cursor jumped to the newest entry,
       * and a consumer must read its state afresh from Redis.
       */
      readonly kind: "resync";
      readonly cursor: string;
    };

/**
 * The entries of the stream at `key` after `cursor`, at most `max`. The read
 * starts at the cursor itself: it is the first entry returned unless
 * retention trimmed it away, and then the entries after it may be gone too
 * (a resync). Ids only grow and trimming only removes the oldest, so a cursor
 * still present means nothing after it is missing. (A reader that started on
 * an empty stream has no entry to stand on until it reads one: entries
 * written and trimmed away within its first interval would go unnoticed.
 * Retention keeps hours, not milliseconds.)
 */
export async function readAfter(redis: RedisConnection, key: string, cursor: string, max: number): Promise<OutboxRead> {
  const raw = await redis.xrange(key, cursor, "+", "COUNT", max + 2);
  let first = 0;
  if (raw[0]?.[0] === cursor) {
    first = 1;
  } else if (cursor !== STREAM_START) {
    return { kind: "resync", cursor: await newestId(redis, key) };
  }
  if (raw.length - first > max) {
    return { kind: "resync", cursor: await newestId(redis, key) };
  }
  const entries: OutboxEntry[] = [];
  for (let i = first; i < raw.length; i++) {
    const [id, flat] = raw[i] as [string, string[]];
    entries.push(new OutboxEntry(id, flat));
  }
  return { kind: "entries", entries, cursor: entries.at(-1)?.id ?? cursor };
}

/** Id of the newest entry of the stream at `key`; `0-0` when it is empty. */
export async function newestId(redis: RedisConnection, key: string): Promise<string> {
  const last = await redis.xrevrange(key, "+", "-", "COUNT", 1);
  return last[0]?.[0] ?? STREAM_START;
}
