import type { Logger } from "pino";
import { StoredTicketState } from "../redis/outcomes.js";
import { sessionFields } from "./decode.js";
import { estimatedWaitSeconds } from "./estimate.js";
import type { QueueStore } from "./queue-store.js";
import type { TicketStateCode, TicketView } from "./types.js";
import { decodeWatchTick, type QueueChange, type WatchedTicket, type WatchTick } from "./watch-decode.js";
import { WatcherLoop } from "../util/watcher-loop.js";
import { PositionWalk } from "./position-walk.js";
import { Presence } from "./presence.js";
import { inPreQueue, type Watcher } from "./watcher.js";

export interface WatchLoopOptions {
  /** Pause between ticks: bounds how often a watcher hears of changes. */
  readonly intervalMs: number;
  /** Most outbox changes one tick applies before asking for a resync. */
  readonly maxChangesPerTick: number;
  /** Most tickets read (new watchers) or presences refreshed per tick. */
  readonly batchSize: number;
  readonly logger: Logger;
  /** The loop's clock (epoch ms) for presence refreshes; `Date.now` unless a test drives it. */
  readonly now?: () => number;
}

/**
 * Outbox kinds that take a user out of the line, and the state they end in.
 * `queue.session_ended` is not one: an admitted user had already left the
 * line, so the end of their session moves nobody.
 */
const REMOVALS: ReadonlyMap<string, TicketStateCode> = new Map([
  ["queue.left", StoredTicketState.LEFT],
  ["queue.expired", StoredTicketState.EXPIRED],
  ["queue.admitted", StoredTicketState.ADMITTED],
]);

/** What a tick read besides changes and tickets, as a freshly read watcher needs it. */
type TickTotals = Pick<Extract<WatchTick, { kind: "tick" }>, "waitingTotal" | "admittedPerSec" | "opensAtMs">;

/** The outbox entry of a finished opening shuffle. */
const SHUFFLED = "queue.shuffled";

/**
 * Keeps every local watcher of one event informed with one script call per
 * tick. Positions are derived locally (`PositionWalk`): a watcher's position
 * drops by the number of removals ahead of it (lower join sequence) read from
 * the outbox, so the Redis work per tick follows the changes, not the number
 * of watchers. New watchers are read in batches on the next tick, which runs
 * at once.
 */
export class WatchLoop extends WatcherLoop<Watcher> {
  readonly eventId: string;
  readonly #store: QueueStore;
  readonly #options: WatchLoopOptions;
  /** Every user with a stream here (pending or live), for the idle timeout. */
  readonly #presence = new Presence();
  #cursor = "";
  #touchEveryMs = Number.POSITIVE_INFINITY;
  readonly #walk: PositionWalk;
  readonly #now: () => number;

  /** Starts serving `first`; `onStopped` runs synchronously once no watcher is left. */
  constructor(eventId: string, store: QueueStore, options: WatchLoopOptions, first: Watcher, onStopped: () => void) {
    super();
    this.eventId = eventId;
    this.#store = store;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#walk = new PositionWalk({
      live: this.live,
      push: (watcher, ticket) => this.#push(watcher, ticket),
      onError: (err) => options.logger.error({ err, eventId }, "watch fan-out failed"),
    });
    this.#presence.add(first.userId, this.#now());
    this.start(first, options.intervalMs, onStopped);
  }

  override add(watcher: Watcher): void {
    this.#presence.add(watcher.userId, this.#now());
    super.add(watcher);
  }

  override remove(watcher: Watcher): void {
    this.#presence.remove(watcher.userId);
    super.remove(watcher);
  }

  protected override failed(cause: unknown): void {
    this.#options.logger.error({ err: cause, eventId: this.eventId }, "watch loop tick failed");
    this.#failAll({ kind: "unavailable", cause });
  }

  protected override async tick(): Promise<boolean> {
    const reading = [...new Set([...this.pending].slice(0, this.#options.batchSize).map((w) => w.userId))];
    // A read refreshes presence too; the others are refreshed when due, watched or being read.
    const now = this.#now();
    this.#presence.refreshed(reading, now);
    const touching = this.#presence.due(now, this.#touchEveryMs, this.#options.batchSize);
    const k = this.#store.keys(this.eventId);
    const raw = await this.#store.run(
      "watchQueue",
      [k.config, k.waiting, k.seen, k.tickets, k.log, k.stats],
      [this.#store.skewMs(), this.#cursor, this.#options.maxChangesPerTick, touching.length, ...touching, ...reading],
    );
    const tick = decodeWatchTick(raw);
    if (tick.kind === "event_not_found") {
      this.#failAll({ kind: "event_not_found" });
      return false;
    }
    this.#cursor = tick.cursor;
    // Presence is refreshed three times per idle timeout, so one late tick never costs a place.
    this.#touchEveryMs = (tick.idleTimeoutSeconds * 1000) / 3;
    if (tick.resync) {
      for (const watcher of this.live) {
        this.pending.add(watcher);
      }
      this.live.clear();
    } else {
      await this.#apply(tick.changes, tick.waitingTotal, tick.admittedPerSec);
      if (tick.changes.some((change) => change.kind === SHUFFLED)) {
        // The opening shuffle gave every pre-queue user a new place and seq: read them again.
        for (const watcher of this.live) {
          if (watcher.current && inPreQueue(watcher.current)) {
            this.live.delete(watcher);
            this.pending.add(watcher);
          }
        }
      }
    }
    for (const watcher of [...this.pending]) {
      if (tick.tickets.has(watcher.userId)) {
        this.pending.delete(watcher);
        this.#resolve(watcher, tick.tickets.get(watcher.userId), tick);
      }
    }
    // Watchers still unread (or back for a resync) make the next tick run at once.
    return false;
  }

  /**
   * Applies one tick's changes: endings are delivered at once (an admitted
   * user's pass must not wait behind anyone's new position); the removals go
   * to the position walk.
   */
  async #apply(changes: readonly QueueChange[], waitingTotal: number, rate: number | undefined): Promise<void> {
    const removals: number[] = [];
    const ended = new Map<string, QueueChange>();
    for (const change of changes) {
      if (REMOVALS.has(change.kind)) {
        removals.push(change.seq);
        ended.set(change.userId, change);
      }
    }
    if (ended.size > 0) {
      // Pending watchers with a ticket are pre-queue users waiting to be read
      // again after the opening shuffle, which changed their seq: the first
      // ending of theirs since they were read is their own, so it is
      // delivered now rather than after their turn to be read comes.
      for (const watcher of [...this.live, ...this.pending]) {
        const end = ended.get(watcher.userId);
        const current = watcher.current;
        if (!end || !current || (end.seq !== watcher.seq && !inPreQueue(current))) {
          continue;
        }
        this.#push(watcher, {
          eventId: current.eventId,
          userId: watcher.userId,
          state: REMOVALS.get(end.kind) as TicketStateCode,
          position: 0,
          waitingTotal,
          joinedAtMs: current.joinedAtMs,
          ...sessionFields(end.issuedAtMs, end.expiresAtMs),
        });
        if (watcher.closed) {
          this.pending.delete(watcher);
        }
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#walk.advance(removals, waitingTotal, rate);
  }

  #resolve(watcher: Watcher, found: WatchedTicket | undefined, tick: TickTotals): void {
    if (!found) {
      watcher.push({ kind: "not_in_queue" });
      return;
    }
    const { waitingTotal, admittedPerSec: rate, opensAtMs } = tick;
    const wait = estimatedWaitSeconds(found.state, found.position, rate);
    const ticket: TicketView = {
      eventId: this.eventId,
      userId: watcher.userId,
      state: found.state,
      position: found.position,
      waitingTotal,
      joinedAtMs: found.joinedAtMs,
      ...sessionFields(found.issuedAtMs, found.expiresAtMs),
      ...(wait === undefined ? {} : { estimatedWaitSeconds: wait }),
      ...(opensAtMs !== undefined && inPreQueue(found) ? { opensAtMs } : {}),
    };
    const previous = watcher.current;
    watcher.seq = found.seq;
    watcher.removedBelow = this.#walk.removedBelow(found.seq);
    if (
      !previous ||
      previous.state !== ticket.state ||
      previous.position !== ticket.position ||
      previous.estimatedWaitSeconds !== ticket.estimatedWaitSeconds
    ) {
      watcher.push({ kind: "ticket", ticket });
    } else {
      watcher.current = ticket;
    }
    if (!watcher.closed) {
      this.live.add(watcher);
    }
  }

  #push(watcher: Watcher, ticket: TicketView): void {
    watcher.push({ kind: "ticket", ticket });
    if (watcher.closed) {
      this.live.delete(watcher);
    }
  }

  #failAll(item: Parameters<Watcher["push"]>[0]): void {
    for (const watcher of [...this.pending, ...this.live]) {
      watcher.push(item);
    }
    this.pending.clear();
    this.live.clear();
  }
}

