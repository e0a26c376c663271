import { estimatedWaitSeconds } from "./estimate.js";
import type { TicketView } from "./types.js";
import { movedTicket, type Watcher } from "./watcher.js";

/**
 * Places sent between two turns of the event loop: the position walk's
 * slice, so that a tick (with the passes it delivers) never waits behind
 * more than one slice of places.
 */
const SLICE = 256;

/** A pre-queue watcher's new place after the opening shuffle, as read, waiting to be sent. */
export interface Announcement {
  readonly watcher: Watcher;
  /** The ticket as read: its position counts the removals up to the read. */
  readonly ticket: TicketView;
  /** The join sequence the shuffle gave the user: its order in the line. */
  readonly seq: number;
  /** The position walk's removals below `seq` when the ticket was read. */
  readonly removedBelow: number;
}

export interface PlaceAnnouncerDeps {
  /** The position walk's removals so far below `seq`. */
  readonly removedBelow: (seq: number) => number;
  /** The measured admission rate and the line's length, as last read. */
  readonly figures: () => { readonly rate: number | undefined; readonly waitingTotal: number };
  /** Delivers a ticket to a watcher (and forgets it if that ended its stream). */
  readonly push: (watcher: Watcher, ticket: TicketView) => void;
  readonly onError: (err: unknown) => void;
}

/**
 * Tells the pre-queue's watchers their new places after the opening shuffle,
 * the head of the line first. The loop reads their tickets in big batches
 * (Redis reads are cheap) and hands them over; the announcer sends them in
 * line order, a slice per turn of the event loop, beside the ticks: an
 * admission's pass, delivered by a tick, never waits behind anyone's place.
 * Each place is brought up to date when its turn comes, from the removals
 * the walk has seen since the read, and the watcher then follows the walk.
 * Until then its last ticket is the pre-queue one, which the walk leaves
 * alone and the endings still reach.
 */
export class PlaceAnnouncer {
  readonly #deps: PlaceAnnouncerDeps;
  /** Announcements in line order; those before `#next` are done. */
  #queue: Announcement[] = [];
  #next = 0;
  /** The announcement each waiting watcher is due; a watcher read again or gone has none. */
  readonly #due = new Map<Watcher, Announcement>();
  #running: Promise<void> | undefined;

  constructor(deps: PlaceAnnouncerDeps) {
    this.#deps = deps;
  }

  /** Watchers waiting for their place. */
  get size(): number {
    return this.#due.size;
  }

  /** Queues places to send, in line order with those still waiting. */
  add(announcements: readonly Announcement[]): void {
    if (announcements.length === 0) {
      return;
    }
    for (const announcement of announcements) {
      this.#due.set(announcement.watcher, announcement);
    }
    const queue = this.#queue.slice(this.#next).concat(announcements);
    queue.sort((a, b) => a.seq - b.seq);
    this.#queue = queue;
    this.#next = 0;
    this.#running ??= this.#run()
      .catch(this.#deps.onError)
      .finally(() => {
        this.#running = undefined;
      });
  }

  /** The watcher left, or is being read again: its place, if still waiting, is not sent. */
  forget(watcher: Watcher): void {
    this.#due.delete(watcher);
  }

  /** Forgets every place still waiting (everyone is read again). */
  clear(): void {
    this.#due.clear();
    this.#queue = [];
    this.#next = 0;
  }

  async #run(): Promise<void> {
    let sent = 0;
    while (this.#next < this.#queue.length) {
      if (sent >= SLICE) {
        // Let the messages built so far reach their sockets, and the ticks run.
        sent = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      const announcement = this.#queue[this.#next++] as Announcement;
      if (this.#due.get(announcement.watcher) === announcement) {
        this.#due.delete(announcement.watcher);
        this.#announce(announcement);
        sent++;
      }
    }
    this.#queue = [];
    this.#next = 0;
  }

  #announce({ watcher, ticket, seq, removedBelow }: Announcement): void {
    const now = this.#deps.removedBelow(seq);
    const position = ticket.position - (now - removedBelow);
    const { rate, waitingTotal } = this.#deps.figures();
    watcher.removedBelow = now;
    this.#deps.push(watcher, movedTicket(ticket, position, waitingTotal, estimatedWaitSeconds(ticket.state, position, rate)));
  }
}
