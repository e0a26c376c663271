/**
 * Who one watch loop keeps present in the line, and when each was last
 * refreshed. One entry per user, however many of the user's streams are
 * open (reconnects overlap) and whether they are being read or following
 * changes: a user is watched from their first stream's arrival until their
 * last one leaves.
 *
 * Entries are kept in refresh order (a refresh moves the user to the back),
 * so the users due for a refresh are always at the front and finding them
 * costs nothing for the ones that are not.
 */
export class Presence {
  readonly #users = new Map<string, PresenceEntry>();

  /** Users with at least one open stream. */
  get size(): number {
    return this.#users.size;
  }

  /** A stream of `userId` opened; its first read counts as the refresh. */
  add(userId: string, now: number): void {
    const entry = this.#users.get(userId);
    if (entry) {
      entry.streams++;
    } else {
      this.#users.set(userId, { streams: 1, at: now });
    }
  }

  /** A stream of `userId` closed; the user is forgotten with their last one. */
  remove(userId: string): void {
    const entry = this.#users.get(userId);
    if (entry && --entry.streams === 0) {
      this.#users.delete(userId);
    }
  }

  /** The users' presence was refreshed at `now` another way (their ticket was read). */
  refreshed(userIds: readonly string[], now: number): void {
    for (const userId of userIds) {
      this.#moveToBack(userId, now);
    }
  }

  /**
   * Up to `limit` users whose last refresh is at least `everyMs` old, oldest
   * first; they count as refreshed at `now` (the caller refreshes them).
   */
  due(now: number, everyMs: number, limit: number): string[] {
    const due: string[] = [];
    for (const [userId, entry] of this.#users) {
      if (due.length >= limit || now - entry.at < everyMs) {
        break;
      }
      due.push(userId);
    }
    // Moved after the walk: moving while iterating would visit them again.
    this.refreshed(due, now);
    return due;
  }

  #moveToBack(userId: string, now: number): void {
    const entry = this.#users.get(userId);
    if (entry) {
      this.#users.delete(userId);
      entry.at = now;
      this.#users.set(userId, entry);
    }
  }
}

interface PresenceEntry {
  /** Open streams of the user in this loop, being read or following changes. */
  streams: number;
  /** When the user's presence was last refreshed (the loop's clock, ms). */
  at: number;
}
