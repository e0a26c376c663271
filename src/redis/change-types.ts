/**
 * The change types of an event's outbox, shared by TypeScript and Lua.
 *
 * Every state-changing script appends one entry per change to the event's
 * stream (`event-log.ts`), in the same atomic step as the change. The names
 * are defined here once and rendered into the scripts' prelude as
 * `CT_QUEUE_JOINED` = 'queue.joined' and so on, so a script never spells a
 * type by hand and the two sides cannot drift.
 *
 * An entry's fields, after `type` (all values strings; times in epoch ms;
 * `seq` is the user's place in arrival order):
 *
 * | type                  | fields                                                                  |
 * |-----------------------|-------------------------------------------------------------------------|
 * | queue.joined          | user, seq, and pre = "1" when the user joined the pre-queue              |
 * | queue.left            | user, seq                                                               |
 * | queue.expired         | user, seq (an idle waiter)                                              |
 * | queue.admitted        | user, seq, issued, expires (the pass)                                   |
 * | queue.session_ended   | user, seq, reason (left / expired / confirmed), issued, expires         |
 * | queue.shuffled        | user = "", seq = the pre-queue's last seq, first = its first seq        |
 * | queue.configured      | user = "", seq = "0", created (1/0), rate, burst, max_active,           |
 * |                       | session_ttl, idle_timeout (s), opens_at (ms, "" = none), state (Q_*)    |
 * | seat.map_loaded       | sections, seats, tiers, capacity, replaced (1/0)                        |
 * | seat.held             | hold, user, seats, tier, quantity, expires                              |
 * | seat.extended         | hold, user, seats, tier, quantity, expires                              |
 * | seat.released         | hold, user, seats, tier, quantity                                       |
 * | seat.confirmed        | hold, user, seats, tier, quantity, order                                |
 * | seat.expired          | hold, user, seats, tier, quantity                                       |
 *
 * `seats` is "section|row|seat" per seat joined by ","; "" for general
 * admission, where `tier` names the tier ("" for reserved seats).
 */
export const ChangeType = {
  QUEUE_JOINED: "queue.joined",
  QUEUE_LEFT: "queue.left",
  QUEUE_ADMITTED: "queue.admitted",
  QUEUE_EXPIRED: "queue.expired",
  QUEUE_SESSION_ENDED: "queue.session_ended",
  QUEUE_SHUFFLED: "queue.shuffled",
  QUEUE_CONFIGURED: "queue.configured",
  SEAT_MAP_LOADED: "seat.map_loaded",
  SEAT_HELD: "seat.held",
  SEAT_EXTENDED: "seat.extended",
  SEAT_RELEASED: "seat.released",
  SEAT_CONFIRMED: "seat.confirmed",
  SEAT_EXPIRED: "seat.expired",
} as const;

export type ChangeTypeName = (typeof ChangeType)[keyof typeof ChangeType];

const NAMES = new Set<string>(Object.values(ChangeType));

export function isChangeType(type: string): type is ChangeTypeName {
  return NAMES.has(type);
}
