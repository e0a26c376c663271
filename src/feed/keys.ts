import { eventLogKey } from "../redis/event-log.js";

/**
 * Redis key names of one consumer group of an event's change feed. Every key
 * shares the event's hash tag `{<eventId>}` (one Redis Cluster slot per
 * event); event ids and group names are validated (`[A-Za-z0-9._:-]`, no
 * braces) before keys are built.
 */
export interface FeedKeys {
  /** The event's outbox stream, which every group reads. */
  readonly log: string;
  /**
   * This group's replayed dead letters: a stream only this group reads (with
   * a consumer group of the same name), under ids `0-<n>` that can never be
   * outbox ids, so an id alone says which stream it belongs to.
   */
  readonly replay: string;
  /** This group's dead letters, oldest first. */
  readonly dlq: string;
  /**
   * Every entry pending for this group (both streams), scored by the epoch ms
   * at which it is due for redelivery: visibility timeout plus backoff.
   */
  readonly due: string;
  /** Counters: `delivered_total`, `acked_total`, `trimmed_while_pending`, `skipped_total`, `replayed_total`, `created_ms`. */
  readonly meta: string;
  /** The event's group names (a set), for stats and for telling unknown groups apart. */
  readonly groups: string;
}

export function feedKeys(prefix: string, eventId: string, group: string): FeedKeys {
  const base = `${prefix}{${eventId}}:`;
  return {
    log: eventLogKey(prefix, eventId),
    replay: `${base}replay:${group}`,
    dlq: `${base}dlq:${group}`,
    due: `${base}feed-due:${group}`,
    meta: `${base}feed:${group}`,
    groups: feedGroupsKey(prefix, eventId),
  };
}

export function feedGroupsKey(prefix: string, eventId: string): string {
  return `${prefix}{${eventId}}:feed-groups`;
}
