import { StoredTicketState } from "../redis/outcomes.js";
import { estimatedWaitSeconds } from "./estimate.js";
import type { TicketView } from "./types.js";
import { inPreQueue, movedTicket, type Watcher } from "./watcher.js";

/** Watchers updated between two turns of the event loop during a walk. */
const SLICE = 256;

/**
 * How often a waiting watcher hears its place. Near the front every change
 * is sent. Further back a change is sent at once when it is large (the place
 * or the estimate moved by at least `farMinChange` of what the watcher was
 * last told) or when the watcher's last message is at least `farIntervalMs`
 * old; any other change is held back until that age, and then sent as the
 * place and estimate of that moment. So a far watcher hears a change at most
 * `farIntervalMs` (plus one tick, which walks the due watchers) after a near
 * one would, and at most about one message per interval for small changes.
 * First messages and endings never wait. `farIntervalMs` 0 sends every
 * change to everyone.
 */
export interface WatchCadence {
  /** Places up to this one hear every change. */
  readonly exactWithin: number;
  /** Fraction (0–1) of the last told place, or estimate, that a change must reach to be sent at once. */
  readonly farMinChange: number;
  /** Longest a change waits to be told; 0 tells every change at once. */
  readonly farIntervalMs: number;
}

/** Every change to every watcher. */
export const EVERY_CHANGE: WatchCadence = Object.freeze({ exactWithin: 0, farMinChange: 0, farIntervalMs: 0 });

export interface PositionWalkDeps {
  /** The loop's live watchers: the ones that follow changes. */
  readonly live: ReadonlySet<Watcher>;
  /** Delivers a ticket to a watcher (and forgets it if that ended its stream). */
  readonly push: (watcher: Watcher, ticket: TicketView) => void;
  readonly onError: (err: unknown) => void;
  /** The loop's clock (epoch ms), which the watchers' `toldAtMs` are on. */
  readonly now: () => number;
  /** Which changes are sent at once; every one when unset. */
  readonly cadence?: WatchCadence | undefined;
}

/**
 * The places of one event's waiting watchers, kept beside the watch loop's
 * ticks. The loop reports each tick's removals from the line; a watcher's
 * place drops by the removals below its join sequence since it last heard
 * its place. A walk over every live watcher sends each one whose place or
 * estimated wait changed, computing it when the watcher's turn comes, from
 * everything reported by then: a walk that spans several ticks sends one
 * message with the newest place instead of one per tick, and the ticks (with
 * the endings they deliver) never wait for a walk. Far from the front the
 * cadence may hold a change back; a tick at or after the earliest time a
 * held-back change is due walks again, so it is told then, exact as of then.
 */
export class PositionWalk {
  readonly #deps: PositionWalkDeps;
  readonly #cadence: WatchCadence;
  /** Seqs of every removal from the line reported so far, ascending. */
  #removed: number[] = [];
  #waitingTotal = 0;
  #rate: number | undefined;
  /** Earliest time a change held back by the last walk is due (infinite when none is). */
  #dueAtMs = Number.POSITIVE_INFINITY;
  /** The same for the walk under way. */
  #nextDueAtMs = Number.POSITIVE_INFINITY;
  #dirty = false;
  #walking: Promise<void> | undefined;

  constructor(deps: PositionWalkDeps) {
    this.#deps = deps;
    this.#cadence = deps.cadence ?? EVERY_CHANGE;
  }

  /** The measured admission rate last reported, for estimates. */
  get rate(): number | undefined {
    return this.#rate;
  }

  /**
   * Reports a tick; walks the watchers if anyone moved, the rate changed or
   * a held-back change is due. The loop reports every tick, with or without
   * removals: the ticks are the clock that tells held-back changes.
   */
  advance(removals: readonly number[], waitingTotal: number, rate: number | undefined): void {
    const rateChanged = rate !== this.#rate;
    this.#waitingTotal = waitingTotal;
    this.#rate = rate;
    if (removals.length > 0) {
      this.#removed = mergeSorted(this.#removed, [...removals].sort((a, b) => a - b));
    }
    if (removals.length > 0 || rateChanged || this.#deps.now() >= this.#dueAtMs) {
      this.#start();
    }
  }

  /**
   * Forgets the removals reported so far, once every watcher is being read
   * again (after a resync): each starts from `removedBelow` when it is.
   */
  restart(): void {
    this.#removed = [];
  }

  /** Removals reported so far below `seq`: a freshly read watcher's starting point. */
  removedBelow(seq: number): number {
    return countBelow(this.#removed, seq);
  }

  #start(): void {
    this.#dirty = true;
    if (this.#walking) {
      return;
    }
    this.#walking = this.#walk()
      .catch(this.#deps.onError)
      .finally(() => {
        this.#walking = undefined;
      });
  }

  async #walk(): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false;
      const now = this.#deps.now();
      this.#nextDueAtMs = Number.POSITIVE_INFINITY;
      let pushed = 0;
      for (const watcher of this.#deps.live) {
        // Let the messages built so far reach their sockets before building more.
        if (pushed >= SLICE) {
          pushed = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        if (this.#update(watcher, now)) {
          pushed++;
        }
      }
      this.#dueAtMs = this.#nextDueAtMs;
    }
  }

  /**
   * Sends a waiting watcher its place and estimate if either changed and the
   * cadence says now (true when it sent); a change held back makes its due
   * time a candidate for the next walk's.
   */
  #update(watcher: Watcher, now: number): boolean {
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
    const age = now - watcher.toldAtMs;
    const { exactWithin, farMinChange, farIntervalMs } = this.#cadence;
    // A clock stepped back (or never read) tells at once rather than holding back for the step.
    if (
      position > exactWithin &&
      age >= 0 &&
      age < farIntervalMs &&
      !movedBy(ticket.position, position, farMinChange) &&
      !waitMovedBy(ticket.estimatedWaitSeconds, wait, farMinChange)
    ) {
      this.#nextDueAtMs = Math.min(this.#nextDueAtMs, watcher.toldAtMs + farIntervalMs);
      return false;
    }
    watcher.removedBelow = removedBelow;
    this.#deps.push(watcher, movedTicket(ticket, position, this.#waitingTotal, wait));
    return true;
  }
}

/** Whether `now` differs from the `told` value by at least `fraction` of it. */
function movedBy(told: number, now: number, fraction: number): boolean {
  return Math.abs(told - now) >= fraction * told;
}

/** The same for estimates; one appearing or going away is always a large change. */
function waitMovedBy(told: number | undefined, now: number | undefined, fraction: number): boolean {
  if (told === undefined || now === undefined) {
    return told !== now;
  }
  return movedBy(told, now, fraction);
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

/** How many of the ascending `seqs` are below `seq`. */
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
