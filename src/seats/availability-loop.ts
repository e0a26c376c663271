import type { Logger } from "pino";
import { ChangeType } from "../redis/change-types.js";
import type { OutboxRead, OutboxReader } from "../watch/outbox-reader.js";
import type { WatchHub, WatchKind } from "../watch/watch-hub.js";
import { WatchLoop, type Deliver } from "../watch/watch-loop.js";
import { AvailabilityWatcher, type AvailabilityItem } from "./availability-watcher.js";
import { parseSeatChange } from "./changes.js";
import type { SeatStore } from "./seat-store.js";
import type { AvailabilityResult, AvailabilityView, SeatStatusView } from "./types.js";

export interface AvailabilityWatchOptions {
  readonly logger: Logger;
}

/** The fan-out of WatchAvailability. */
export type AvailabilityHub = WatchHub<AvailabilityWatcher, AvailabilityItem, string | undefined>;

/** WatchAvailability as a kind of watch: a stream follows the counts and one section's seats (or every seat). */
export function availabilityWatch(store: SeatStore, options: AvailabilityWatchOptions): WatchKind<AvailabilityWatcher, AvailabilityItem, string | undefined> {
  return {
    watcher: (section, signal) => new AvailabilityWatcher(section, signal),
    loop: (eventId, reader) => new AvailabilityLoop(eventId, reader, store, options),
  };
}

/**
 * Keeps one event's WatchAvailability streams informed from the shared
 * outbox read: when seats changed, the counts are read once and every stream
 * gets them with the changes of its section. Streams being read get a
 * snapshot per distinct section. The Redis work per tick follows the changes
 * and the streams being read, never the number of open streams.
 */
class AvailabilityLoop extends WatchLoop<AvailabilityWatcher> {
  readonly #store: SeatStore;
  readonly #options: AvailabilityWatchOptions;

  constructor(eventId: string, reader: OutboxReader, store: SeatStore, options: AvailabilityWatchOptions) {
    super(eventId, reader);
    this.#store = store;
    this.#options = options;
  }

  protected override fail(cause: unknown): void {
    this.#options.logger.error({ err: cause, eventId: this.eventId }, "availability loop tick failed");
    this.#failAll({ kind: "unavailable", cause });
  }

  protected override async step(read: Promise<OutboxRead>): Promise<Deliver> {
    const outbox = await read;
    const changes: SeatStatusView[] = [];
    let seatsChanged = false;
    // Lost changes, or a new seat map: every stream gets a snapshot again.
    let resync = outbox.kind === "resync";
    for (const entry of outbox.kind === "entries" ? outbox.entries : []) {
      resync ||= entry.type === ChangeType.SEAT_MAP_LOADED;
      // Queue entries, extended holds and types added later change no seat's status.
      const change = parseSeatChange(entry.flat);
      if (change) {
        seatsChanged = true;
        for (const seat of change.seats) {
          changes.push({ seatId: seat.seatId, section: seat.section, row: seat.row, status: change.status });
        }
      }
    }
    // Every read is made before any stream hears of this tick, so a failed
    // one leaves nothing half delivered. The counts for the live streams
    // come first, then one snapshot per distinct section of the streams
    // being read (every stream after a resync), read after the changes: it
    // may include some of the next read's changes too; applying a seat's
    // change again leaves it at the same, latest status.
    const counts = !resync && seatsChanged && this.live.size > 0 ? await this.#store.availability(this.eventId, undefined) : undefined;
    const bySection = new Map<string | undefined, AvailabilityWatcher[]>();
    for (const watcher of resync ? [...this.pending, ...this.live] : this.pending) {
      const group = bySection.get(watcher.section);
      if (group) group.push(watcher);
      else bySection.set(watcher.section, [watcher]);
    }
    const snapshots: Array<{ watchers: AvailabilityWatcher[]; result: AvailabilityResult }> = [];
    for (const [section, watchers] of bySection) {
      snapshots.push({ watchers, result: await this.#store.availability(this.eventId, section) });
    }
    return () => this.#deliver(resync, counts, changes, snapshots);
  }

  #deliver(
    resync: boolean,
    counts: AvailabilityResult | undefined,
    changes: readonly SeatStatusView[],
    snapshots: ReadonlyArray<{ watchers: AvailabilityWatcher[]; result: AvailabilityResult }>,
  ): boolean {
    if (resync) {
      for (const watcher of this.live) {
        this.pending.add(watcher);
      }
      this.live.clear();
    } else if (counts) {
      const availability = this.#outcome(counts, []);
      if (!availability) {
        return false;
      }
      for (const watcher of this.live) {
        watcher.update(availability, changes);
      }
    }
    for (const { watchers, result } of snapshots) {
      const snapshot = this.#outcome(result, watchers);
      if (!snapshot) {
        if (result.kind === "event_not_found") {
          return false;
        }
        continue;
      }
      for (const watcher of watchers) {
        if (this.pending.delete(watcher)) {
          watcher.snapshot(snapshot);
          this.live.add(watcher);
        }
      }
    }
    return false;
  }

  /** The availability read; failures go to `failing` (everyone when the event is gone) and yield undefined. */
  #outcome(result: AvailabilityResult, failing: readonly AvailabilityWatcher[]): AvailabilityView | undefined {
    switch (result.kind) {
      case "availability":
        return result.availability;
      case "event_not_found":
        this.#failAll({ kind: "event_not_found" });
        return undefined;
      case "unknown_section":
        for (const watcher of failing) {
          if (this.pending.delete(watcher)) {
            watcher.fail({ kind: "unknown_section" });
          }
        }
        return undefined;
    }
  }

  #failAll(item: Exclude<AvailabilityItem, { kind: "update" }>): void {
    for (const watcher of this.pending) watcher.fail(item);
    for (const watcher of this.live) watcher.fail(item);
    this.pending.clear();
    this.live.clear();
  }
}
