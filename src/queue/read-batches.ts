import { inPreQueue, type Watcher } from "./watcher.js";

/** Watchers read by one tick script call: at most a batch of users. */
export interface ReadBatch {
  readonly watchers: Watcher[];
  readonly users: string[];
}

/**
 * The watchers one tick reads, in batches of at most `batchSize` users (a
 * user's streams all in one batch). The first batch takes whoever waits
 * first. The others, up to `maxBatches` in all, take only pre-queue watchers
 * read again after the opening shuffle: reading their tickets costs Redis
 * little, and their places are sent beside the ticks, in line order (see
 * `PlaceAnnouncer`), so reading them all at once only lets the head of the
 * line hear first. A new watcher's first message is sent by the tick that
 * reads it, so those stay one batch per tick.
 */
export function readBatches(pending: Iterable<Watcher>, batchSize: number, maxBatches: number): ReadBatch[] {
  const batches: ReadBatch[] = [{ watchers: [], users: [] }];
  const batchOf = new Map<string, ReadBatch>();
  for (const watcher of pending) {
    let batch = batchOf.get(watcher.userId);
    if (batch === undefined) {
      const reread = watcher.current !== undefined && inPreQueue(watcher.current);
      batch = batches.at(-1) as ReadBatch;
      if (batch.users.length >= batchSize) {
        if (!reread) {
          if (maxBatches === 1) break;
          continue;
        }
        if (batches.length >= maxBatches) {
          break;
        }
        batch = { watchers: [], users: [] };
        batches.push(batch);
      } else if (batches.length > 1 && !reread) {
        continue;
      }
      batch.users.push(watcher.userId);
      batchOf.set(watcher.userId, batch);
    }
    batch.watchers.push(watcher);
  }
  return batches;
}
