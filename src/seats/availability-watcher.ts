import type { AvailabilityView, SeatStatusView } from "./types.js";

/** What a WatchAvailability stream delivers. */
export type AvailabilityItem =
  | {
      readonly kind: "update";
      /** Counts for everything; with the watched section's seats in the first update only. */
      readonly availability: AvailabilityView;
      /** Seats of the watched section (or all) whose status changed, latest status each. */
      readonly changes: readonly SeatStatusView[];
    }
  | { readonly kind: "event_not_found" }
  | { readonly kind: "unknown_section" }
  | { readonly kind: "unavailable"; readonly cause: unknown };

/**
 * One open WatchAvailability stream's mailbox. Updates that pile up while the
 * reader is slow are merged: the newest counts, and the newest status of each
 * changed seat, so a slow reader never falls behind by more than one message.
 */
export class AvailabilityWatcher {
  /** The section whose seats are listed and streamed; undefined = every seat. */
  readonly section: string | undefined;
  #counts: AvailabilityView | undefined;
  readonly #changes = new Map<string, SeatStatusView>();
  #final: AvailabilityItem | undefined;
  #wake: (() => void) | undefined;

  constructor(section: string | undefined) {
    this.section = section;
  }

  update(availability: AvailabilityView, changes: readonly SeatStatusView[]): void {
    const mine = this.section === undefined ? changes : changes.filter((c) => c.section === this.section);
    const unread = this.#counts;
    if (unread !== undefined && unread.seats.length > 0) {
      // The first snapshot (with the section's seats) is still unread: fold the changes into it.
      const status = new Map(mine.map((c) => [c.seatId, c.status]));
      const seats = unread.seats.map((seat) => {
        const now = status.get(seat.seatId);
        return now === undefined ? seat : { ...seat, status: now };
      });
      this.#counts = { ...availability, seats };
    } else {
      this.#counts = availability;
      for (const change of mine) {
        // Re-inserting keeps the map in the order the changes happened.
        this.#changes.delete(change.seatId);
        this.#changes.set(change.seatId, change);
      }
    }
    this.#wake?.();
  }

  fail(item: Exclude<AvailabilityItem, { kind: "update" }>): void {
    this.#final = item;
    this.#wake?.();
  }

  /** The next item, or a rejection with `signal.reason` once the signal aborts. */
  async next(signal: AbortSignal): Promise<AvailabilityItem> {
    while (this.#counts === undefined && this.#final === undefined) {
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason);
        this.#wake = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }).finally(() => {
        this.#wake = undefined;
      });
    }
    if (this.#counts !== undefined) {
      const item: AvailabilityItem = { kind: "update", availability: this.#counts, changes: [...this.#changes.values()] };
      this.#counts = undefined;
      this.#changes.clear();
      return item;
    }
    return this.#final as AvailabilityItem;
  }
}
