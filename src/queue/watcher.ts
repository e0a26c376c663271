import { StoredTicketState } from "../redis/outcomes.js";
import type { TicketView } from "./types.js";

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
  /** Last ticket pushed; undefined until the first read. */
  current: TicketView | undefined;
  #pending: WatchItem | undefined;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(userId: string) {
    this.userId = userId;
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
    this.#wake?.();
  }

  /** The next item, or a rejection with `signal.reason` once the signal aborts. */
  async next(signal: AbortSignal): Promise<WatchItem> {
    while (this.#pending === undefined) {
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason);
        this.#wake = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }).finally(() => {
        this.#wake = undefined;
      });
    }
    const item = this.#pending;
    this.#pending = undefined;
    return item;
  }
}

/** Whether a stream ends after delivering this item. */
export function isFinal(item: WatchItem): boolean {
  return item.kind !== "ticket" || item.ticket.state !== StoredTicketState.WAITING;
}
