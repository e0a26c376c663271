import { StoredTicketState } from "../redis/outcomes.js";
import { estimatedWaitSeconds } from "./estimate.js";
import type { TicketView } from "./types.js";
import { inPreQueue, type Watcher } from "./watcher.js";

/** Watchers updated between two turns of the event loop during a walk. */
const SLICE = 256;

export interface PositionWalkDeps {
  /** The loop's live watchers: the ones that follow changes. */
  readonly live: ReadonlySet<Watcher>;
  /** Delivers a ticket to a watcher (and forgets it if that ended its stream). */
  readonly push: (watcher: Watcher, ticket: TicketView) => void;
  readonly onError: (err: unknown) => void;
}

/**
 * The places of one event's waiting watchers, kept beside the watch loop's
 * ticks. The loop reports each tick's removals from the line; a watcher's
 * place drops by the removals below its join sequence since it last heard
 * its place. A walk over every live watcher sends each one whose place or
 * estimated wait changed, computing it when the watcher's turn comes, from
 * everything reported by then: a walk that spans several ticks sends one
 * message with the newest place instead of one per tick, and the ticks (with
 * the endings they deliver) never wait for a walk.
 */
export class PositionWalk {
  readonly #deps: PositionWalkDeps;
  /** Seqs of every removal from the line reported so far, ascending. */
  #removed: number[] = [];
  #waitingTotal = 0;
  #rate: number | undefined;
  #dirty = false;
  #walking: Promise<void> | undefined;

  constructor(deps: PositionWalkDeps) {
    this.#deps = deps;
  }

  /** The measured admission rate last reported, for estimates. */
  get rate(): number | undefined {
    return this.#rate;
  }

  /** Reports a tick; walks the watchers if anyone moved or the rate changed. */
  advance(removals: readonly number[], waitingTotal: number, rate: number | undefined): void {
    const rateChanged = rate !== this.#rate;
    this.#waitingTotal = waitingTotal;
    this.#rate = rate;
    if (removals.length > 0) {
      this.#removed = mergeSorted(this.#removed, [...removals].sort((a, b) => a - b));
    }
    if (removals.length > 0 || rateChanged) {
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
      let pushed = 0;
      for (const watcher of this.#deps.live) {
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

  /** Sends a waiting watcher its place and estimate if either changed; true when it sent. */
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
    // Field by field rather than a spread: one object of a fixed shape per message.
    this.#deps.push(watcher, {
      eventId: ticket.eventId,
      userId: ticket.userId,
      state: ticket.state,
      position,
      waitingTotal: this.#waitingTotal,
      joinedAtMs: ticket.joinedAtMs,
      issuedAtMs: ticket.issuedAtMs,
      expiresAtMs: ticket.expiresAtMs,
      estimatedWaitSeconds: wait,
      opensAtMs: ticket.opensAtMs,
    });
    return true;
  }
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
