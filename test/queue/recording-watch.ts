import pino from "pino";
import { onTestFinished } from "vitest";
import type { WatchCadence } from "../../src/queue/position-walk.js";
import { positionWatch, type PositionHub } from "../../src/queue/position-watch.js";
import type { TicketView } from "../../src/queue/types.js";
import { Watcher, type WatchItem } from "../../src/queue/watcher.js";
import { OutboxReader } from "../../src/watch/outbox-reader.js";
import { WatchHub } from "../../src/watch/watch-hub.js";
import type { QueueFixture } from "./fixtures.js";

/** One item a loop pushed to a watcher, and the loop's clock when it did. */
export interface Told {
  readonly atMs: number;
  readonly item: WatchItem;
}

/** A watcher that keeps every item pushed to it: what its stream was sent, in order, as the loop sent it. */
class RecordingWatcher extends Watcher {
  readonly told: Told[] = [];
  readonly #now: () => number;

  constructor(userId: string, signal: AbortSignal, now: () => number) {
    super(userId, signal, now);
    this.#now = now;
  }

  override push(item: WatchItem): void {
    if (!this.closed) {
      this.told.push({ atMs: this.#now(), item });
    }
    super.push(item);
  }
}

export interface RecordingWatch {
  readonly hub: PositionHub;
  /** The loop's clock, which only the test moves. */
  now(): number;
  advance(ms: number): void;
  /** Opens a stream for `userId` (read in the background); its pushes are in `told(userId)`. */
  open(userId: string): void;
  /** Every item pushed to the user's latest stream. */
  told(userId: string): readonly Told[];
  /** The tickets among them. */
  tickets(userId: string): readonly TicketView[];
  /** Runs one tick of the event's loop (reads the outbox, walks) and waits for its end. */
  tick(): Promise<void>;
  /** Ends every stream the test opened. */
  close(): Promise<void>;
}

/**
 * A WatchPosition hub over the fixture's store whose loop ticks only when
 * the test says (`tick`) and reads a clock only the test moves: what each
 * watcher was sent is known when `tick` returns, for fewer than a walk's
 * slice of watchers (a walk that short runs within the tick).
 */
export function recordingWatch(f: QueueFixture, cadence: WatchCadence | undefined): RecordingWatch {
  const logger = pino({ level: "silent" });
  let now = 1_000_000;
  const clock = (): number => now;
  const reader = new OutboxReader(f.redis, { keyPrefix: f.keyPrefix, intervalMs: 3_600_000, maxEntriesPerRead: 1000, logger });
  onTestFinished(() => reader.close());
  const kind = positionWatch(f.store, { batchSize: 500, logger, now: clock, ...(cadence ? { cadence } : {}) });
  const watchers = new Map<string, RecordingWatcher>();
  const hub: PositionHub = new WatchHub(reader, {
    watcher: (userId, signal) => {
      const watcher = new RecordingWatcher(userId, signal, clock);
      watchers.set(userId, watcher);
      return watcher;
    },
    loop: kind.loop,
  });
  const streams: Array<{ controller: AbortController; done: Promise<void> }> = [];
  const told = (userId: string): readonly Told[] => {
    const watcher = watchers.get(userId);
    if (!watcher) throw new Error(`no stream was opened for ${userId}`);
    return watcher.told;
  };
  return {
    hub,
    now: clock,
    advance(ms) {
      now += ms;
    },
    open(userId) {
      const controller = new AbortController();
      const done = (async () => {
        try {
          for await (const _ of hub.watch(f.eventId, userId, controller.signal)) {
            // Drained: what matters is what the loop pushed.
          }
        } catch (err) {
          if (err !== controller.signal.reason) throw err;
        }
      })();
      streams.push({ controller, done });
    },
    told,
    tickets: (userId) => told(userId).flatMap((t) => (t.item.kind === "ticket" ? [t.item.ticket] : [])),
    async tick() {
      const ticked = hub.ticked(f.eventId);
      reader.wake(f.eventId);
      await ticked;
    },
    async close() {
      for (const s of streams) s.controller.abort(new Error("test over"));
      await Promise.all(streams.map((s) => s.done));
    },
  };
}
