import { StoredTicketState } from "../redis/outcomes.js";
import type { TicketStateCode, TicketView } from "./types.js";

/** What a watch stream delivers: a ticket, or why there is none. */
export type WatchItem =
  | { readonly kind: "ticket"; readonly ticket: TicketView }
  | { readonly kind: "event_not_found" }
  | { readonly kind: "not_in_queue" }
  | { readonly kind: "unavailable"; readonly cause: unknown };

/**
 * One open WatchPosition stream's mailbox. The loop overwrites the pending
 * item (coalescing: a slow reader only ever gets the newest ticket); the
 * stream takes it with `next`, which races the stream's abort signal.
 */
export class Watcher {
  readonly userId: string;
  /** Join sequence of the ticket being watched; known once resolved. */
  seq = 0;
  /** The loop's count of removals below `seq` when this watcher last heard its position. */
  removedBelow = 0;
  /** Last ticket pushed; undefined until the first read. */
  current: TicketView | undefined;
  readonly #signal: AbortSignal;
  readonly #onAbort: () => void;
  #pending: WatchItem | undefined;
  #waiter: { resolve: () => void; reject: (reason: unknown) => void } | undefined;
  #closed = false;

  /** Listens to `signal` once for the watcher's whole life; call `dispose` when done. */
  constructor(userId: string, signal: AbortSignal) {
    this.userId = userId;
    this.#signal = signal;
    this.#onAbort = () => this.#waiter?.reject(signal.reason);
    signal.addEventListener("abort", this.#onAbort, { once: true });
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
    }
    if (isFinal(item)) {
      this.#closed = true;
    }
    this.#pending = item;
    this.#waiter?.resolve();
  }

  /** The next item, or a rejection with the signal's reason once it aborts. */
  async next(): Promise<WatchItem> {
    while (this.#pending === undefined) {
      this.#signal.throwIfAborted();
      try {
        await new Promise<void>((resolve, reject) => {
          this.#waiter = { resolve, reject };
        });
      } finally {
        this.#waiter = undefined;
      }
    }
    const item = this.#pending;
    this.#pending = undefined;
    return item;
  }

  dispose(): void {
    this.#signal.removeEventListener("abort", this.#onAbort);
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
