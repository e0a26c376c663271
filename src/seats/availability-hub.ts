import type { Logger } from "pino";
import { AvailabilityWatcher, type AvailabilityItem } from "./availability-watcher.js";
import { WatcherLoop } from "../util/watcher-loop.js";
import type { SeatStore } from "./seat-store.js";
import type { AvailabilityView, SeatStatusView } from "./types.js";

export interface AvailabilityHubOptions {
  /** Pause between ticks: bounds how often a watcher hears of changes. */
  readonly intervalMs: number;
  /** Most outbox entries one tick reads. */
  readonly maxChangesPerTick: number;
  readonly logger: Logger;
}

/**
 * The process-wide fan-out for WatchAvailability: one loop per event with
 * local watchers. Each tick reads the event's outbox once after its cursor
 * and, when seats changed, the counts once; new watchers get a snapshot per
 * distinct section they watch. The Redis work per tick follows the changes
 * and the new watchers, never the number of open streams.
 */
export class AvailabilityHub {
  readonly #store: SeatStore;
  readonly #options: AvailabilityHubOptions;
  readonly #loops = new Map<string, AvailabilityLoop>();

  constructor(store: SeatStore, options: AvailabilityHubOptions) {
    this.#store = store;
    this.#options = options;
  }

  get eventsWatched(): number {
    return this.#loops.size;
  }

  async stopped(eventId: string): Promise<void> {
    await this.#loops.get(eventId)?.done;
  }

  /** Streams an event's availability until the signal aborts (rejecting with its reason) or a failure item. */
  async *watch(eventId: string, section: string | undefined, signal: AbortSignal): AsyncGenerator<AvailabilityItem> {
    signal.throwIfAborted();
    const watcher = new AvailabilityWatcher(section);
    let loop = this.#loops.get(eventId);
    if (loop) {
      loop.add(watcher);
    } else {
      const created: AvailabilityLoop = new AvailabilityLoop(eventId, this.#store, this.#options, watcher, () => {
        if (this.#loops.get(eventId) === created) {
          this.#loops.delete(eventId);
        }
      });
      this.#loops.set(eventId, created);
      loop = created;
    }
    try {
      for (;;) {
        const item = await watcher.next(signal);
        yield item;
        if (item.kind !== "update") {
          return;
        }
      }
    } finally {
      loop.remove(watcher);
    }
  }
}

class AvailabilityLoop extends WatcherLoop<AvailabilityWatcher> {
  readonly #eventId: string;
  readonly #store: SeatStore;
  readonly #options: AvailabilityHubOptions;
  #cursor: string | undefined;

  constructor(eventId: string, store: SeatStore, options: AvailabilityHubOptions, first: AvailabilityWatcher, onStopped: () => void) {
    super();
    this.#eventId = eventId;
    this.#store = store;
    this.#options = options;
    this.start(first, options.intervalMs, onStopped);
  }

  protected override failed(cause: unknown): void {
    this.#options.logger.error({ err: cause, eventId: this.#eventId }, "availability loop tick failed");
    this.#failAll({ kind: "unavailable", cause });
  }

  /** One tick; true when another is due at once (a full page of changes). */
  protected override async tick(): Promise<boolean> {
    let more = false;
    if (this.#cursor !== undefined && this.live.size > 0) {
      const page = await this.#store.changesSince(this.#eventId, this.#cursor, this.#options.maxChangesPerTick);
      this.#cursor = page.cursor;
      more = page.more;
      if (page.changes.length > 0) {
        const counts = await this.#snapshot(undefined);
        if (!counts) {
          return false;
        }
        const changes: SeatStatusView[] = page.changes.flatMap((c) =>
          c.seats.map((seat) => ({ seatId: seat.seatId, section: seat.section, row: seat.row, status: c.status })),
        );
        for (const watcher of this.live) {
          watcher.update(counts, changes);
        }
      }
    }
    // New watchers: one snapshot per distinct section. Its cursor is at least
    // this loop's, so the changes after it reach them through later ticks.
    const bySection = new Map<string | undefined, AvailabilityWatcher[]>();
    for (const watcher of this.pending) {
      bySection.set(watcher.section, [...(bySection.get(watcher.section) ?? []), watcher]);
    }
    for (const [section, watchers] of bySection) {
      const snapshot = await this.#snapshot(section, watchers);
      if (!snapshot) {
        continue;
      }
      this.#cursor ??= snapshot.cursor;
      for (const watcher of watchers) {
        if (this.pending.delete(watcher)) {
          watcher.update(snapshot, []);
          this.live.add(watcher);
        }
      }
    }
    return more;
  }

  /** The availability (with `section`'s seats); failures go to `failing` (default: everyone) and yield undefined. */
  async #snapshot(section: string | undefined, failing?: readonly AvailabilityWatcher[]): Promise<AvailabilityView | undefined> {
    const result = await this.#store.availability(this.#eventId, section);
    switch (result.kind) {
      case "availability":
        return result.availability;
      case "event_not_found":
        this.#failAll({ kind: "event_not_found" });
        return undefined;
      case "unknown_section":
        for (const watcher of failing ?? []) {
          this.pending.delete(watcher);
          watcher.fail({ kind: "unknown_section" });
        }
        return undefined;
    }
  }

  #failAll(item: Exclude<AvailabilityItem, { kind: "update" }>): void {
    for (const watcher of [...this.pending, ...this.live]) {
      watcher.fail(item);
    }
    this.pending.clear();
    this.live.clear();
  }
}
