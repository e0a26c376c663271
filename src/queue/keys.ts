import { eventLogKey } from "../redis/event-log.js";

/**
 * Redis key names of one event's queue. Every key of an event shares the hash
 * tag `{<eventId>}`, so each script touches a single Redis Cluster slot.
 * Event ids are validated (`[A-Za-z0-9._:-]`, no braces) before keys are built.
 */
export interface QueueKeys {
  readonly config: string;
  readonly waiting: string;
  /**
   * Prefix of the ticket buckets: hashes `<tickets><0 … ticketBuckets-1>`,
   * field = user id, the bucket a hash of the id (`ticket_key` in
   * `lua/queue-lib.lua`, where the record's packed layout is described).
   * Small buckets keep Redis's compact hash encoding.
   */
  readonly tickets: string;
  /**
   * Counters (`joined_total`, also the last seq given out, `admitted_total`,
   * …) and the measured admission rate: `rate_ewma` (admissions/s, decimal string) with its state
   * `rate_sum`, `rate_span`, `rate_at`; the pre-queue waiting for its opening
   * shuffle: `pre_first`, `pre_last` (its seqs), `shuffle_next` (progress);
   * `opened_ms`, when the last shuffle finished; the idle sweep's walk:
   * `sweep_at`, `sweep_pass_min`, `sweep_min` (see `sweepQueue-5.lua`).
   */
  readonly stats: string;
  /** Admitted users with a session, scored by its expiry (epoch ms). */
  readonly active: string;
  /** The admission token bucket: `tokens` (decimal string) and `refilled_ms`. */
  readonly bucket: string;
  /** The event's outbox stream (shared with the seat inventory). */
  readonly log: string;
}

export function queueKeys(prefix: string, eventId: string): QueueKeys {
  const base = `${prefix}{${eventId}}:`;
  return {
    config: `${base}q:config`,
    waiting: `${base}q:waiting`,
    tickets: `${base}q:t:`,
    stats: `${base}q:stats`,
    active: `${base}q:active`,
    bucket: `${base}q:bucket`,
    log: eventLogKey(prefix, eventId),
  };
}

/** The set of configured event ids: what the periodic sweeper and the admitter walk. */
export function eventIndexKey(prefix: string): string {
  return `${prefix}events`;
}

/**
 * Ticket buckets per event (`QueueKeys.tickets`). 4,096 keep every bucket
 * under hash-max-listpack-entries up to about 1,800,000 tickets an event with
 * 512 (Redis's built-in value, the one the README recommends), or 350,000
 * with the 128 of Redis's example redis.conf; past that the fullest buckets
 * turn into hash tables, which is correct, only larger (≈ 30% more memory a
 * waiting user at 1,000,000).
 */
export const TICKET_BUCKETS = 4096;

/**
 * The bucket holding `userId`'s ticket: the same polynomial hash of the id's
 * bytes as `ticket_key` in `lua/queue-lib.lua` (ids are ASCII, validated).
 * The scripts find buckets themselves; this is for reading a ticket by hand.
 */
export function ticketBucketKey(keys: QueueKeys, userId: string, buckets: number = TICKET_BUCKETS): string {
  let h = 0;
  for (let i = 0; i < userId.length; i++) {
    h = (h * 31 + userId.charCodeAt(i)) % 1_000_003;
  }
  return `${keys.tickets}${h % buckets}`;
}
