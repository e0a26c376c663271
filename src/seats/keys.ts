import { eventLogKey } from "../redis/event-log.js";

/**
 * Redis key names of one event's seat inventory. Every key shares the hash
 * tag `{<eventId>}` (the outbox too), so each script touches one Redis
 * Cluster slot. Ids are validated (`[A-Za-z0-9._:-]`) before keys are built.
 */
export interface SeatKeys {
  /** Hash: settings, section and tier order, loaded_at. Its existence means "a seat map is loaded". */
  readonly config: string;
  /** Hash: section id -> its row ids `row,row` (front to back); `section|row` -> `seat,seat` (left to right). */
  readonly layout: string;
  /** Hash: seat id -> `section|row`. */
  readonly seats: string;
  /** Hash: seat id -> `H<holdId>` (held) or `S<holdId>` (sold); absent = available. */
  readonly taken: string;
  /** Hash: hold id -> `state|user|created_ms|expires_ms|quantity|tier|order|seat,seat`. */
  readonly holds: string;
  /** Sorted set: live (HELD) hold ids scored by expiry ms. */
  readonly expiry: string;
  /** Hash: user id -> seats (and GA places) held + sold by that user. */
  readonly users: string;
  /** Hash: every counter of the event: `e:cap`, `s:<section>:held`, `t:<tier>:sold`…, and `r:<section>|<row>` = the row's available seats. */
  readonly counts: string;
  /** The event's outbox stream (shared with the waiting room). */
  readonly log: string;
}

export function seatKeys(prefix: string, eventId: string): SeatKeys {
  const base = `${prefix}{${eventId}}:s:`;
  return {
    config: `${base}config`,
    layout: `${base}layout`,
    seats: `${base}seats`,
    taken: `${base}taken`,
    holds: `${base}holds`,
    expiry: `${base}expiry`,
    users: `${base}users`,
    counts: `${base}counts`,
    log: eventLogKey(prefix, eventId),
  };
}

/**
 * String: the hold a user's HoldSeats request id made, `<holdId>|<sha1 of the
 * selection>`, expiring with the event's maximum hold lifetime (the longest a
 * hold can stay HELD, extensions included), so it outlives every state in
 * which a retry could still take seats. `|` cannot occur in either id, so no
 * two (user, request id) pairs share a key. Without a request id the hold
 * script gets `…|` and never touches it.
 */
export function holdRequestKey(prefix: string, eventId: string, userId: string, requestId: string): string {
  return `${prefix}{${eventId}}:s:request:${userId}|${requestId}`;
}

/** The set of event ids with a seat map: what the hold reaper walks. */
export function seatEventIndexKey(prefix: string): string {
  return `${prefix}seats:events`;
}
