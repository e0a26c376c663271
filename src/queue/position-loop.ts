import type { Logger } from "pino";
import { ChangeType } from "../redis/change-types.js";
import { compareStreamIds, type OutboxEntry } from "../redis/outbox-entry.js";
import { StoredTicketState } from "../redis/outcomes.js";
import type { OutboxRead, OutboxReader } from "../watch/outbox-reader.js";
import { WatchLoop, type Deliver } from "../watch/watch-loop.js";
import { sessionFields } from "./decode.js";
import { estimatedWaitSeconds } from "./estimate.js";
import { PlaceAnnouncer, type Announcement } from "./place-announcer.js";
import { PositionWalk, type WatchCadence } from "./position-walk.js";
import { Presence } from "./presence.js";
import type { QueueStore } from "./queue-store.js";
import { readBatches, type ReadBatch } from "./read-batches.js";
import type { TicketStateCode, TicketView } from "./types.js";
import { queueChangeOf, type QueueChange, type WatchedTicket, type WatchTick } from "./watch-decode.js";
import { inPreQueue, type Watcher, type WatchItem } from "./watcher.js";

export interface PositionWatchOptions {
  /** Most tickets read per tick script call (watchers being read), or presences refreshed per tick. */
  readonly batchSize: number;
  /**
   * Most tick script calls one tick sends, pipelined, to read the pre-queue
   * again after the opening shuffle (default 64: 64,000 watchers a tick at
   * the default batch size). Watchers read for the first time take one call.
   */
  readonly rereadBatches?: number;
  readonly logger: Logger;
  /** The loops' clock (epoch ms) for presence refreshes and the cadence; `Date.now` unless a test drives it. */
  readonly now?: () => number;
  /** Which position changes are sent at once (see `WatchCadence`); every one when unset. */
  readonly cadence?: WatchCadence;
}

/**
 * Outbox kinds that take a user out of the line, and the state they end in.
 * `queue.session_ended` is not one: an admitted user had already left the
 * line, so the end of their session moves nobody.
 */
const REMOVALS: ReadonlyMap<string, TicketStateCode> = new Map([
  [ChangeType.QUEUE_LEFT, StoredTicketState.LEFT],
  [ChangeType.QUEUE_EXPIRED, StoredTicketState.EXPIRED],
  [ChangeType.QUEUE_ADMITTED, StoredTicketState.ADMITTED],
]);

type Tick = Extract<WatchTick, { kind: "tick" }>;

const DEFAULT_REREAD_BATCHES = 64;

/**
 * Keeps every local watcher of one event informed with one script call per
 * tick beside the shared outbox read. Positions are derived locally
 * (`PositionWalk`): a watcher's position drops by the number of removals
 * ahead of it (lower join sequence) read from the outbox, so the Redis work
 * per tick follows the changes, not the number of watchers. Watchers are
 * read in batches; the tick script reports the newest outbox id its tickets
 * include, and the changes up to it are applied before a freshly read
 * watcher follows the rest. After the opening shuffle the pre-queue's
 * watchers are read again, many batches a tick, and told their new places
 * head of the line first (`PlaceAnnouncer`).
 */
export class PositionLoop extends WatchLoop<Watcher> {
  readonly #store: QueueStore;
  readonly #options: PositionWatchOptions;
  readonly #now: () => number;
  readonly #walk: PositionWalk;
  readonly #announcer: PlaceAnnouncer;
  /** The line's length as last read, for places announced between ticks. */
  #waitingTotal = 0;
  /** Every user with a stream here (being read or live), for the idle timeout. */
  readonly #presence = new Presence();
  #touchEveryMs = Number.POSITIVE_INFINITY;

  constructor(eventId: string, reader: OutboxReader, store: QueueStore, options: PositionWatchOptions) {
    super(eventId, reader);
    this.#store = store;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#walk = new PositionWalk({
      live: this.live,
      push: (watcher, ticket) => this.#push(watcher, ticket),
      onError: (err) => options.logger.error({ err, eventId }, "watch fan-out failed"),
      now: this.#now,
      cadence: options.cadence,
    });
    this.#announcer = new PlaceAnnouncer({
      removedBelow: (seq) => this.#walk.removedBelow(seq),
      figures: () => ({ rate: this.#walk.rate, waitingTotal: this.#waitingTotal }),
      push: (watcher, ticket) => this.#push(watcher, ticket),
      onError: (err) => options.logger.error({ err, eventId }, "watch fan-out failed"),
    });
  }

  protected override added(watcher: Watcher): void {
    this.#presence.add(watcher.userId, this.#now());
  }

  protected override removed(watcher: Watcher): void {
    this.#presence.remove(watcher.userId);
    this.#announcer.forget(watcher);
  }

  protected override fail(cause: unknown): void {
    this.#options.logger.error({ err: cause, eventId: this.eventId }, "watch loop tick failed");
    this.#failAll({ kind: "unavailable", cause });
  }

  protected override async step(read: Promise<OutboxRead>): Promise<Deliver> {
    const batches = readBatches(this.pending, this.#options.batchSize, this.#options.rereadBatches ?? DEFAULT_REREAD_BATCHES);
    const now = this.#now();
    // A read refreshes presence too; the others are refreshed when due, whether being read or live.
    // (Should the tick fail, they count as refreshed all the same: a refresh
    // comes three times per idle timeout, and the reader gives up long before.)
    for (const batch of batches) this.#presence.refreshed(batch.users, now);
    const touch = this.#presence.due(now, this.#touchEveryMs, this.#options.batchSize);
    // Sent back to back (one round trip), run by Redis in this order.
    const ticking = batches.map((batch, i) => this.#store.watchTick(this.eventId, { touch: i === 0 ? touch : [], read: batch.users }));
    const ticks = Promise.all(ticking);
    ticks.catch(() => undefined);
    const outbox = await read;
    const replies = await ticks;
    return () => this.#deliver(outbox, replies, batches);
  }

  async #deliver(outbox: OutboxRead, replies: readonly WatchTick[], batches: readonly ReadBatch[]): Promise<boolean> {
    const ticks: Tick[] = [];
    for (const reply of replies) {
      if (reply.kind === "event_not_found") {
        this.#failAll({ kind: "event_not_found" });
        return false;
      }
      ticks.push(reply);
    }
    const last = ticks.at(-1) as Tick;
    // Presence is refreshed three times per idle timeout, so one late tick never costs a place.
    this.#touchEveryMs = (last.idleTimeoutSeconds * 1000) / 3;
    this.#waitingTotal = last.waitingTotal;
    if (outbox.kind === "resync") {
      // Changes were lost: everyone is read again, from the tickets.
      for (const watcher of this.live) {
        this.pending.add(watcher);
      }
      this.live.clear();
      this.#walk.restart();
      this.#announcer.clear();
      return true;
    }
    // Each batch's tickets include the changes up to its `logId` (the calls
    // ran in order, so these only grow): those first, then the watchers of
    // the batch join the live ones, and so on; then the rest. (Should the
    // read have reached Redis before a call, or a call have run before
    // changes already applied, its tickets do not match the changes read:
    // those watchers are read again next tick.)
    const entries = outbox.entries;
    const places: Announcement[] = [];
    let applied = 0;
    for (let i = 0; i < ticks.length; i++) {
      const tick = ticks[i] as Tick;
      let split = applied;
      while (split < entries.length && compareStreamIds((entries[split] as OutboxEntry).id, tick.logId) <= 0) {
        split++;
      }
      await this.#apply(entries.slice(applied, split), tick);
      applied = split;
      const behind = applied > 0 && compareStreamIds((entries[applied - 1] as OutboxEntry).id, tick.logId) > 0;
      if (!behind && compareStreamIds(tick.logId, outbox.cursor) <= 0) {
        for (const watcher of (batches[i] as ReadBatch).watchers) {
          if (this.pending.delete(watcher)) {
            this.#resolve(watcher, tick.tickets.get(watcher.userId), tick, places);
          }
        }
      }
    }
    if (applied < entries.length) {
      await this.#apply(entries.slice(applied), last);
    }
    this.#announcer.add(places);
    // Watchers still unread (or back for a re-read) make the next tick run at once.
    return this.pending.size > 0;
  }

  /**
   * Applies changes: endings are delivered at once (an admitted user's pass
   * must not wait behind anyone's new position); the removals go to the
   * position walk; after the opening shuffle the pre-queue is read again.
   */
  async #apply(entries: readonly OutboxEntry[], tick: Tick): Promise<void> {
    const removals: number[] = [];
    const ended = new Map<string, QueueChange>();
    let shuffled = false;
    for (const entry of entries) {
      const change = queueChangeOf(entry);
      if (change?.kind === ChangeType.QUEUE_SHUFFLED) {
        shuffled = true;
      } else if (change) {
        removals.push(change.seq);
        ended.set(change.userId, change);
      }
    }
    if (ended.size > 0) {
      this.#deliverEndings(ended, tick.waitingTotal, this.live);
      // Pending watchers with a ticket are pre-queue users waiting to be read
      // again after the opening shuffle, which changed their seq: the first
      // ending of theirs since they were read is their own, so it is
      // delivered now rather than after their turn to be read comes.
      this.#deliverEndings(ended, tick.waitingTotal, this.pending);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#walk.advance(removals, tick.waitingTotal, tick.admittedPerSec);
    if (shuffled) {
      // Every pre-queue user has a new place and seq: read them again.
      for (const watcher of this.live) {
        if (watcher.current && inPreQueue(watcher.current)) {
          this.live.delete(watcher);
          this.#announcer.forget(watcher);
          this.pending.add(watcher);
        }
      }
    }
  }

  #deliverEndings(ended: ReadonlyMap<string, QueueChange>, waitingTotal: number, watchers: Set<Watcher>): void {
    for (const watcher of watchers) {
      const end = ended.get(watcher.userId);
      const current = watcher.current;
      if (!end || !current || (end.seq !== watcher.seq && !inPreQueue(current))) {
        continue;
      }
      watcher.push({
        kind: "ticket",
        ticket: {
          eventId: current.eventId,
          userId: watcher.userId,
          state: REMOVALS.get(end.kind) as TicketStateCode,
          position: 0,
          waitingTotal,
          joinedAtMs: current.joinedAtMs,
          ...sessionFields(end.issuedAtMs, end.expiresAtMs),
        },
      });
      if (watcher.closed) {
        watchers.delete(watcher);
      }
    }
  }

  /** Starts a watcher just read off; a pre-queue watcher's new place goes to `places`, to be announced in line order. */
  #resolve(watcher: Watcher, found: WatchedTicket | undefined, tick: Tick, places: Announcement[]): void {
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
    if (previous && inPreQueue(previous) && ticket.state === StoredTicketState.WAITING && ticket.position > 0) {
      // Out of the pre-queue: live at once (endings reach it), its place comes in turn.
      places.push({ watcher, ticket, seq: found.seq, removedBelow: watcher.removedBelow });
      this.live.add(watcher);
      return;
    }
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

  #failAll(item: WatchItem): void {
    this.#announcer.clear();
    for (const watcher of this.pending) watcher.push(item);
    for (const watcher of this.live) watcher.push(item);
    this.pending.clear();
    this.live.clear();
  }
}
