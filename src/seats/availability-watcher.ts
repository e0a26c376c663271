import { Mailbox } from "../watch/mailbox.js";
import type { AvailabilityView, SeatStatusView } from "./types.js";

/** What a WatchAvailability stream delivers. */
export type AvailabilityItem =
  | {
      readonly kind: "update";
      /** Counts for everything; with the watched section's seats in a snapshot (the first update, and after a resync). */
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
export class AvailabilityWatcher extends Mailbox<AvailabilityItem> {
  /** The section whose seats are listed and streamed; undefined = every seat. */
  readonly section: string | undefined;
  #counts: AvailabilityView | undefined;
  readonly #changes = new Map<string, SeatStatusView>();
  #final: AvailabilityItem | undefined;

  /** Listens to `signal` once for the watcher's whole life; call `dispose` when done. */
  constructor(section: string | undefined, signal: AbortSignal) {
    super(signal);
    this.section = section;
  }

  /**
   * A snapshot read from Redis, with the watched section's seats: it replaces
   * whatever the stream has not read yet, changes included, which it covers.
   * A watcher of every seat has no seat list to replace and keeps its changes.
   */
  snapshot(availability: AvailabilityView): void {
    this.#counts = availability;
    if (this.section !== undefined) {
      this.#changes.clear();
    }
    this.wake();
  }

  update(availability: AvailabilityView, changes: readonly SeatStatusView[]): void {
    const mine = this.section === undefined ? changes : changes.filter((c) => c.section === this.section);
    const unread = this.#counts;
    if (unread !== undefined && unread.seats.length > 0) {
      // A snapshot (with the section's seats) is still unread: fold the changes into it.
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
    this.wake();
  }

  fail(item: Exclude<AvailabilityItem, { kind: "update" }>): void {
    this.#final = item;
    this.wake();
  }

  isFinal(item: AvailabilityItem): boolean {
    return item.kind !== "update";
  }

  protected take(): AvailabilityItem | undefined {
    if (this.#counts !== undefined) {
      const item: AvailabilityItem = { kind: "update", availability: this.#counts, changes: [...this.#changes.values()] };
      this.#counts = undefined;
      this.#changes.clear();
      return item;
    }
    return this.#final;
  }
}
