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
