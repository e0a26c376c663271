import type { Logger } from "pino";
import { ChangeType } from "../redis/change-types.js";
import { compareStreamIds, type OutboxEntry } from "../redis/outbox-entry.js";
import { StoredTicketState } from "../redis/outcomes.js";
import type { OutboxRead, OutboxReader } from "../watch/outbox-reader.js";
import { WatchLoop } from "../watch/watch-loop.js";
import { sessionFields } from "./decode.js";
import { estimatedWaitSeconds } from "./estimate.js";
import { PositionWalk, type WatchCadence } from "./position-walk.js";
import { Presence } from "./presence.js";
import type { QueueStore } from "./queue-store.js";
import type { TicketStateCode, TicketView } from "./types.js";
import { queueChangeOf, type QueueChange, type WatchedTicket, type WatchTick } from "./watch-decode.js";
import { inPreQueue, type Watcher, type WatchItem } from "./watcher.js";

export interface PositionWatchOptions {
  /** Most tickets read (watchers being read) or presences refreshed per tick. */
  readonly batchSize: number;
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

/**
 * Keeps every local watcher of one event informed with one script call per
 * tick beside the shared outbox read. Positions are derived locally
 * (`PositionWalk`): a watcher's position drops by the number of removals
 * ahead of it (lower join sequence) read from the outbox, so the Redis work
 * per tick follows the changes, not the number of watchers. Watchers are
 * read in batches; the tick script reports the newest outbox id its tickets
 * include, and the changes up to it are applied before a freshly read
 * watcher follows the rest.
 */
export class PositionLoop extends WatchLoop<Watcher> {
  readonly #store: QueueStore;
  readonly #options: PositionWatchOptions;
  readonly #now: () => number;
  readonly #walk: PositionWalk;
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
  }

  protected override added(watcher: Watcher): void {
    this.#presence.add(watcher.userId, this.#now());
  }

  protected override removed(watcher: Watcher): void {
    this.#presence.remove(watcher.userId);
  }

  protected override fail(cause: unknown): void {
    this.#options.logger.error({ err: cause, eventId: this.eventId }, "watch loop tick failed");
    this.#failAll({ kind: "unavailable", cause });
  }

  protected override async step(read: Promise<OutboxRead>): Promise<boolean> {
    const { watchers, users } = this.#nextToRead();
    const now = this.#now();
    // A read refreshes presence too; the others are refreshed when due, whether being read or live.
    this.#presence.refreshed(users, now);
    const touch = this.#presence.due(now, this.#touchEveryMs, this.#options.batchSize);
    const ticking = this.#store.watchTick(this.eventId, { touch, read: users });
    ticking.catch(() => undefined);
    const outbox = await read;
    const tick = await ticking;
    if (tick.kind === "event_not_found") {
      this.#failAll({ kind: "event_not_found" });
      return false;
    }
    // Presence is refreshed three times per idle timeout, so one late tick never costs a place.
    this.#touchEveryMs = (tick.idleTimeoutSeconds * 1000) / 3;
    if (outbox.kind === "resync") {
      // Changes were lost: everyone is read again, from the tickets.
      for (const watcher of this.live) {
        this.pending.add(watcher);
      }
      this.live.clear();
      this.#walk.restart();
      return true;
    }
    // The tickets include the changes up to `logId`: those first, then the
    // watchers just read join the live ones, then the rest. (Should the read
    // have reached Redis before the script, the tickets are newer than the
    // changes read: those watchers are read again next tick.)
    const entries = outbox.entries;
    let split = entries.length;
    while (split > 0 && compareStreamIds((entries[split - 1] as OutboxEntry).id, tick.logId) > 0) {
      split--;
    }
    await this.#apply(entries.slice(0, split), tick);
    if (compareStreamIds(tick.logId, outbox.cursor) <= 0) {
      for (const watcher of watchers) {
        if (this.pending.delete(watcher)) {
          this.#resolve(watcher, tick.tickets.get(watcher.userId), tick);
        }
      }
    }
    if (split < entries.length) {
      await this.#apply(entries.slice(split), tick);
    }
    // Watchers still unread (or back for a re-read) make the next tick run at once.
    return this.pending.size > 0;
  }

  /** The first watchers waiting to be read, for at most `batchSize` users. */
  #nextToRead(): { watchers: Watcher[]; users: string[] } {
    const watchers: Watcher[] = [];
    const users = new Set<string>();
    for (const watcher of this.pending) {
      if (!users.has(watcher.userId)) {
        if (users.size >= this.#options.batchSize) {
          break;
        }
        users.add(watcher.userId);
      }
      watchers.push(watcher);
    }
    return { watchers, users: [...users] };
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

  #resolve(watcher: Watcher, found: WatchedTicket | undefined, tick: Tick): void {
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

  #failAll(item: WatchItem): void {
    for (const watcher of this.pending) watcher.push(item);
    for (const watcher of this.live) watcher.push(item);
    this.pending.clear();
    this.live.clear();
  }
}
