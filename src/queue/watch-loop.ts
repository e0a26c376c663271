import type { Logger } from "pino";
import { StoredTicketState } from "../redis/outcomes.js";
import { sessionFields } from "./decode.js";
import { estimatedWaitSeconds } from "./estimate.js";
import type { QueueStore } from "./queue-store.js";
import type { TicketStateCode, TicketView } from "./types.js";
import { decodeWatchTick, type QueueChange, type WatchedTicket } from "./watch-decode.js";
import { WatcherLoop } from "../util/watcher-loop.js";
import type { Watcher } from "./watcher.js";

export interface WatchLoopOptions {
  /** Pause between ticks: bounds how often a watcher hears of changes. */
  readonly intervalMs: number;
  /** Most outbox changes one tick applies before asking for a resync. */
  readonly maxChangesPerTick: number;
  /** Most tickets read (new watchers) or presences refreshed per tick. */
  readonly batchSize: number;
  readonly logger: Logger;
}

/** Watchers updated between two turns of the event loop during a fan-out. */
const SLICE = 256;

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

/**
 * Keeps every local watcher of one event informed with one script call per
 * tick. Positions are derived locally: a watcher's position drops by the
 * number of removals ahead of it (lower join sequence) read from the outbox,
 * so the Redis work per tick follows the changes, not the number of watchers.
 * New watchers are read in batches on the next tick, which runs at once.
 */
export class WatchLoop extends WatcherLoop<Watcher> {
  readonly eventId: string;
  readonly #store: QueueStore;
  readonly #options: WatchLoopOptions;
  /** Users in presence order: the head is the one refreshed longest ago. */
  readonly #presence: Array<{ userId: string; at: number }> = [];
  #cursor = "";
  #touchEveryMs = Number.POSITIVE_INFINITY;
  /**
   * Seqs of every removal from the line applied so far, ascending. A watcher
   * remembers how many were below its seq when it last heard its position;
   * the removals below it since then are how far it moved up.
   */
  #removed: number[] = [];
  #waitingTotal = 0;
  #rate: number | undefined;
  #dirty = false;
  #walking: Promise<void> | undefined;

  /** Starts serving `first`; `onStopped` runs synchronously once no watcher is left. */
  constructor(eventId: string, store: QueueStore, options: WatchLoopOptions, first: Watcher, onStopped: () => void) {
    super();
    this.eventId = eventId;
    this.#store = store;
    this.#options = options;
    this.start(first, options.intervalMs, onStopped);
  }

  protected override failed(cause: unknown): void {
    this.#options.logger.error({ err: cause, eventId: this.eventId }, "watch loop tick failed");
    this.#failAll({ kind: "unavailable", cause });
  }

  protected override async tick(): Promise<boolean> {
    const reading = [...new Set([...this.pending].slice(0, this.#options.batchSize).map((w) => w.userId))];
    const touching = this.#dueForPresence(reading);
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
   * user's pass must not wait behind anyone's new position); removals join
   * `#removed`, and the fan-out walks every watcher with the new positions.
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
    const rateChanged = rate !== this.#rate;
    this.#waitingTotal = waitingTotal;
    this.#rate = rate;
    if (removals.length > 0) {
      this.#removed = mergeSorted(this.#removed, removals.sort((a, b) => a - b));
    }
    if (removals.length > 0 || rateChanged) {
      this.#fanOut();
    }
  }

  /**
   * Starts a walk over every live watcher unless one is under way, in which
   * case that walk goes round once more. Each watcher's position is computed
   * when its turn comes, from everything applied by then, so a walk that
   * spans several ticks sends each watcher one message with its newest
   * position instead of one per tick, and ticks (with the endings they
   * deliver) never wait for a walk.
   */
  #fanOut(): void {
    this.#dirty = true;
    if (this.#walking) {
      return;
    }
    this.#walking = this.#walk()
      .catch((err: unknown) => this.#options.logger.error({ err, eventId: this.eventId }, "watch fan-out failed"))
      .finally(() => {
        this.#walking = undefined;
      });
  }

  async #walk(): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false;
      let pushed = 0;
      for (const watcher of this.live) {
        // Let the messages built so far reach their sockets before building more.
        if (pushed >= SLICE) {
          pushed = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        if (this.#update(watcher)) {
          pushed++;
        }
      }
    }
  }

  /** Sends a waiting watcher its position and estimate if either changed; true when it sent. */
  #update(watcher: Watcher): boolean {
    const ticket = watcher.current;
    if (!ticket || ticket.state !== StoredTicketState.WAITING || inPreQueue(ticket)) {
      // No place yet in the pre-queue: nothing ahead of them moves them until the shuffle.
      return false;
    }
    const removedBelow = countBelow(this.#removed, watcher.seq);
    const position = ticket.position - (removedBelow - watcher.removedBelow);
    const wait = estimatedWaitSeconds(ticket.state, position, this.#rate);
    if (position === ticket.position && wait === ticket.estimatedWaitSeconds) {
      return false;
    }
    watcher.removedBelow = removedBelow;
    this.#push(watcher, { ...ticket, position, waitingTotal: this.#waitingTotal, estimatedWaitSeconds: wait });
    return true;
  }

  #resolve(watcher: Watcher, found: WatchedTicket | undefined, tick: { waitingTotal: number; admittedPerSec: number | undefined; opensAtMs: number | undefined }): void {
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
    watcher.removedBelow = countBelow(this.#removed, found.seq);
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
      if (!previous) {
        this.#presence.push({ userId: watcher.userId, at: Date.now() });
      }
    }
  }

  #push(watcher: Watcher, ticket: TicketView): void {
    watcher.push({ kind: "ticket", ticket });
    if (watcher.closed) {
      this.live.delete(watcher);
    }
  }

  /** Users whose presence was refreshed longest ago, still watched and not being read anyway. */
  #dueForPresence(reading: readonly string[]): string[] {
    const now = Date.now();
    const due: string[] = [];
    const head = this.#presence[0];
    if (!head || now - head.at < this.#touchEveryMs) {
      return due;
    }
    const watched = new Set([...this.live].map((w) => w.userId));
    const skip = new Set(reading);
    while (due.length < this.#options.batchSize && this.#presence.length > 0) {
      const head = this.#presence[0] as { userId: string; at: number };
      if (now - head.at < this.#touchEveryMs) {
        break;
      }
      this.#presence.shift();
      if (watched.has(head.userId) && !skip.has(head.userId)) {
        due.push(head.userId);
        this.#presence.push({ userId: head.userId, at: now });
      }
    }
    return due;
  }

  #failAll(item: Parameters<Watcher["push"]>[0]): void {
    for (const watcher of [...this.pending, ...this.live]) {
      watcher.push(item);
    }
    this.pending.clear();
    this.live.clear();
  }
}

/** The outbox entry of a finished opening shuffle. */
const SHUFFLED = "queue.shuffled";

/** A waiting ticket without a place: in the pre-queue, before the opening shuffle. */
function inPreQueue(ticket: { readonly state: TicketStateCode; readonly position: number }): boolean {
  return ticket.state === StoredTicketState.WAITING && ticket.position === 0;
}

/** The ascending merge of two ascending lists. */
function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(a.length + b.length);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < a.length && j < b.length) {
    out[o++] = (a[i] as number) <= (b[j] as number) ? (a[i++] as number) : (b[j++] as number);
  }
  while (i < a.length) out[o++] = a[i++] as number;
  while (j < b.length) out[o++] = b[j++] as number;
  return out;
}

/** How many of the sorted `seqs` are below `seq`. */
function countBelow(seqs: readonly number[], seq: number): number {
  let lo = 0;
  let hi = seqs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((seqs[mid] as number) < seq) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}
