/**
 * The event's outbox: one Redis Stream per event that every feature appends
 * its changes to, inside the script that makes them (`queue.*`, `seat.*`;
 * see `change-types.ts`).
 */
export function eventLogKey(prefix: string, eventId: string): string {
  return `${prefix}{${eventId}}:log`;
}

/**
 * Retention by age. Every script that appends to the outbox takes, as its
 * ARGV[1], the time (epoch ms) before which entries may go: its appends trim
 * approximately (`XADD … MINID ~`, whole stream nodes only) and the periodic
 * sweeps exactly (`XTRIM MINID`), so events nobody writes to lose their old
 * entries too. The threshold travels as data, not as script text, so one
 * loaded script serves every retention.
 *
 * This computes that argument for a call made at `nowMs` with `retentionMs`
 * of retention (0 or undefined: "0", keep everything). The scripts never trim
 * later than Redis's present, so a clock ahead of Redis cannot cost an entry
 * just appended.
 */
export function trimBefore(retentionMs: number | undefined, nowMs: number): string {
  if (retentionMs === undefined || retentionMs === 0) {
    return "0";
  }
  return String(Math.max(0, Math.floor(nowMs - retentionMs)));
}

/** Checks a store's `retentionMs` option once, at construction. */
export function checkRetention(retentionMs: number | undefined): number {
  const value = retentionMs ?? 0;
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    throw new RangeError(`retentionMs must be a non-negative integer, got ${retentionMs}`);
  }
  return value;
}
