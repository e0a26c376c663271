/**
 * The event's outbox: one Redis Stream per event that every feature appends
 * its changes to, inside the script that makes them (`queue.*`, `seat.*`).
 */
export function eventLogKey(prefix: string, eventId: string): string {
  return `${prefix}{${eventId}}:log`;
}

/** Approximate cap (`XADD MAXLEN ~`) on the outbox until retention by age exists; the queue uses the same. */
export const EVENT_LOG_MAXLEN = 1_000_000;
