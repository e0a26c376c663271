import { eventLogKey } from "../redis/event-log.js";

/**
 * Redis key names of one event's queue. Every key of an event shares the hash
 * tag `{<eventId>}`, so each script touches a single Redis Cluster slot.
 * Event ids are validated (`[A-Za-z0-9._:-]`, no braces) before keys are built.
 */
export interface QueueKeys {
  readonly config: string;
  readonly seq: string;
  readonly waiting: string;
  readonly seen: string;
  readonly tickets: string;
  /**
   * Counters (`joined_total`, `admitted_total`, …) and the measured admission
   * rate: `rate_ewma` (admissions/s, decimal string) with its state
   * `rate_sum`, `rate_span`, `rate_at`; the pre-queue waiting for its opening
   * shuffle: `pre_first`, `pre_last` (its seqs), `shuffle_next` (progress);
   * `opened_ms`, when the last shuffle finished.
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
    seq: `${base}q:seq`,
    waiting: `${base}q:waiting`,
    seen: `${base}q:seen`,
    tickets: `${base}q:tickets`,
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
