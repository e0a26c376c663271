import { StoredTicketState } from "../redis/outcomes.js";
import { Mailbox } from "../watch/mailbox.js";
import type { TicketStateCode, TicketView } from "./types.js";

/** What a watch stream delivers: a ticket, or why there is none. */
export type WatchItem =
  | { readonly kind: "ticket"; readonly ticket: TicketView }
  | { readonly kind: "event_not_found" }
  | { readonly kind: "not_in_queue" }
  | { readonly kind: "unavailable"; readonly cause: unknown };

/**
 * One open WatchPosition stream's mailbox. The loop overwrites the pending
 * item (coalescing: a slow reader only ever gets the newest ticket).
 */
export class Watcher extends Mailbox<WatchItem> {
  readonly userId: string;
  /** Join sequence of the ticket being watched; known once resolved. */
  seq = 0;
  /** The loop's count of removals below `seq` when this watcher last heard its position. */
  removedBelow = 0;
  /** Last ticket pushed; undefined until the first read. */
  current: TicketView | undefined;
  /** When `current` was pushed, on the loop's clock (NaN until then): the far cadence counts from it. */
  toldAtMs = Number.NaN;
  readonly #now: () => number;
  #pending: WatchItem | undefined;
  #closed = false;

  /**
   * Listens to `signal` once for the watcher's whole life; call `dispose`
   * when done. `now` is the loop's clock (epoch ms).
   */
  constructor(userId: string, signal: AbortSignal, now: () => number = Date.now) {
    super(signal);
    this.userId = userId;
    this.#now = now;
  }

  get closed(): boolean {
    return this.#closed;
  }

  push(item: WatchItem): void {
    if (this.#closed) {
      return;
    }
    if (item.kind === "ticket") {
      this.current = item.ticket;
      this.toldAtMs = this.#now();
    }
    if (isFinal(item)) {
      this.#closed = true;
    }
    this.#pending = item;
    this.wake();
  }

  isFinal(item: WatchItem): boolean {
    return isFinal(item);
  }

  protected take(): WatchItem | undefined {
    const item = this.#pending;
    this.#pending = undefined;
    return item;
  }
}

/** A waiting ticket without a place: in the pre-queue, before the opening shuffle. */
export function inPreQueue(ticket: { readonly state: TicketStateCode; readonly position: number }): boolean {
  return ticket.state === StoredTicketState.WAITING && ticket.position === 0;
}

/** Whether a stream ends after delivering this item. */
export function isFinal(item: WatchItem): boolean {
  return item.kind !== "ticket" || item.ticket.state !== StoredTicketState.WAITING;
}

/**
 * A waiting ticket at a new place: field by field rather than a spread, so
 * every position message is one object of a fixed shape.
 */
export function movedTicket(ticket: TicketView, position: number, waitingTotal: number, estimatedWaitSeconds: number | undefined): TicketView {
  return {
    eventId: ticket.eventId,
    userId: ticket.userId,
    state: ticket.state,
    position,
    waitingTotal,
    joinedAtMs: ticket.joinedAtMs,
    issuedAtMs: ticket.issuedAtMs,
    expiresAtMs: ticket.expiresAtMs,
    estimatedWaitSeconds,
    opensAtMs: ticket.opensAtMs,
  };
}
