/**
 * Outcome codes shared by TypeScript and Lua.
 *
 * Every script replies with a fixed-length array whose first element is one of
 * these integers. They are defined here once and rendered into the prelude of
 * every script (see `prelude.ts`), so the two sides cannot drift. Business
 * outcomes (sold out, closed, not found…) are codes, never `redis.error_reply`.
 */
export const Outcome = {
  OK: 0,
  CREATED: 1,
  UPDATED: 2,
  JOINED: 3,
  ALREADY_JOINED: 4,
  LEFT: 5,
  ALREADY_ENDED: 6,
  EVENT_NOT_FOUND: 10,
  NOT_IN_QUEUE: 11,
  QUEUE_CLOSED: 12,
  // Seat inventory: successes.
  HELD: 20,
  ALREADY_HELD: 21,
  EXTENDED: 22,
  RELEASED: 23,
  ALREADY_RELEASED: 24,
  CONFIRMED: 25,
  ALREADY_CONFIRMED: 26,
  // Seat inventory: refusals.
  SEAT_MAP_IN_USE: 30,
  SEAT_MAP_INVALID: 31,
  UNKNOWN_SEAT: 32,
  UNKNOWN_SECTION: 33,
  UNKNOWN_TIER: 34,
  SEAT_UNAVAILABLE: 35,
  SOLD_OUT: 36,
  SEAT_LIMIT_REACHED: 37,
  HOLD_NOT_FOUND: 38,
  NOT_HOLD_OWNER: 39,
  HOLD_EXPIRED: 40,
  HOLD_RELEASED: 41,
  HOLD_CONFIRMED: 42,
  HOLD_ID_TAKEN: 43,
  PASS_REQUIRED: 44,
  SESSION_NOT_ACTIVE: 45,
  REQUEST_ID_REUSED: 46,
} as const;

export type OutcomeName = keyof typeof Outcome;
export type OutcomeCode = (typeof Outcome)[OutcomeName];

/**
 * Ticket states as stored in Redis (the `tickets` hash) and streamed in the
 * outbox. Numerically equal to the protobuf `TicketState` values so no
 * translation table is needed at the edge, but defined here so the store does
 * not depend on generated code.
 */
export const StoredTicketState = {
  WAITING: 1,
  ADMITTED: 2,
  LEFT: 3,
  EXPIRED: 4,
} as const;

/** Queue states as stored in Redis; numerically equal to protobuf `QueueState`. */
export const StoredQueueState = {
  OPEN: 1,
  PAUSED: 2,
  CLOSED: 3,
} as const;

/** Where an admission step found an event's opening (see `admitQueue-7.lua`). */
export const OpeningPhase = {
  /** No sale start pending: admissions as configured. */
  NONE: 0,
  /** Before `opens_at`: the pre-queue fills, nobody is admitted. */
  WAITING: 1,
  /** The pre-queue's shuffle went on and is not done: nobody is admitted. */
  SHUFFLING: 2,
  /** This step finished the shuffle. */
  SHUFFLED: 3,
} as const;

/**
 * Hold states as stored in Redis (the `holds` hash) and reported by the seat
 * store; numerically equal to protobuf `HoldState`.
 */
export const StoredHoldState = {
  HELD: 1,
  RELEASED: 2,
  CONFIRMED: 3,
  EXPIRED: 4,
} as const;

/** A seat's status in availability replies; numerically equal to protobuf `SeatStatus`. */
export const StoredSeatStatus = {
  AVAILABLE: 1,
  HELD: 2,
  SOLD: 3,
} as const;

/**
 * Outcome codes of the change feed's scripts (`src/feed/lua`), rendered into
 * their prelude only, beside `Outcome` (whose `OK` they also use). Kept apart
 * so the feed's codes do not change the other features' scripts.
 */
export const FeedOutcome = {
  GROUP_CREATED: 50,
  GROUP_EXISTS: 51,
  GROUP_NOT_FOUND: 52,
} as const;

/** The redelivery delay curves as the feed scripts know them. */
export const StoredBackoff = {
  FIXED: 1,
  LINEAR: 2,
  EXPONENTIAL: 3,
} as const;
