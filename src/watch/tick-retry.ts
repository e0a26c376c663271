import type { OutboxRead } from "./outbox-stream.js";

/** Longest pause between two tries of a failing tick, however long it keeps failing. */
export const MAX_RETRY_PAUSE_MS = 2_000;

/**
 * The pause before the `failures`-th try in a row of a failing tick: the
 * usual interval, doubled at each further failure, at most
 * `MAX_RETRY_PAUSE_MS` (or the interval, if that is longer).
 */
export function retryPauseMs(intervalMs: number, failures: number): number {
  const doubled = intervalMs * 2 ** Math.min(Math.max(failures - 1, 0), 16);
  return Math.min(doubled, Math.max(intervalMs, MAX_RETRY_PAUSE_MS));
}

/**
 * One consumer whose ticks fail: since when, and the reads it was handed
 * but did not apply. The reader's cursor moves on with the consumers whose
 * ticks worked; this one gets what it missed ahead of its next read, so no
 * entry is lost to it and none is applied twice.
 */
export interface FailingConsumer {
  /** When its first failed tick in a row ended (epoch ms). */
  readonly since: number;
  /** Failed ticks in a row. */
  attempts: number;
  /** Entries read for its failed ticks, not applied; undefined when the reads themselves failed. */
  carried: OutboxRead | undefined;
}

/**
 * `later` read after `earlier`, as one read from `earlier`'s start: the
 * entries of both, or a resync when either is one or together they hold
 * more than `max` entries (the consumer then reads its state afresh).
 */
export function joinReads(earlier: OutboxRead | undefined, later: OutboxRead, max: number): OutboxRead {
  if (earlier === undefined) {
    return later;
  }
  if (earlier.kind === "resync" || later.kind === "resync" || earlier.entries.length + later.entries.length > max) {
    return { kind: "resync", cursor: later.cursor };
  }
  return { kind: "entries", entries: [...earlier.entries, ...later.entries], cursor: later.cursor };
}
