import { AbortableWait } from "./abortable-wait.js";

/** Takes a mailbox's items as they arrive (see `Mailbox.listen`). */
export interface MailboxReader<Item> {
  /** An item, taken from the mailbox; false when the reader is full: nothing more until `Mailbox.resume`. */
  deliver(item: Item): boolean;
  /** The mailbox's signal aborted. */
  aborted(reason: unknown): void;
}

/**
 * One open stream's mailbox: a loop puts items in (subclasses decide how
 * items that pile up while the stream is slow are coalesced), the stream
 * takes them with `next`, which races the stream's abort signal. A slow
 * reader therefore never falls behind by more than one coalesced item, and
 * nothing is buffered per message.
 *
 * Or the stream `listen`s: each item is then handed to its reader as the loop
 * puts it in, in the same turn, while the reader has room; while it is full,
 * items coalesce here as for a slow `next`, and the newest goes out at
 * `resume`.
 */
export abstract class Mailbox<Item> extends AbortableWait {
  #reader: MailboxReader<Item> | undefined;
  #full = false;

  /** The coalesced item waiting to be taken, cleared by taking it; undefined when none waits. */
  protected abstract take(): Item | undefined;

  /** Whether the stream ends after delivering `item`. */
  abstract isFinal(item: Item): boolean;

  /** `next`, bound once (when first needed: a pushed stream never waits): what a wait continues with. */
  #again: (() => Promise<Item>) | undefined;

  /** The next item, or a rejection with the signal's reason once it aborts. */
  next(): Promise<Item> {
    const item = this.take();
    if (item !== undefined) {
      return Promise.resolve(item);
    }
    return this.wait().then((this.#again ??= () => this.next()));
  }

  /**
   * Hands every item to `reader` as it arrives, instead of `next`: what waits
   * already goes at once. An abort of the signal is told to the reader.
   * Until `dispose`.
   */
  listen(reader: MailboxReader<Item>): void {
    this.#reader = reader;
    this.#full = false;
    this.#deliver();
  }

  /** The reader has room again: the item that waits, if any, goes now. */
  resume(): void {
    this.#full = false;
    this.#deliver();
  }

  /** Subclasses call this after putting an item in: it goes to a listening reader, or ends a `next`'s wait. */
  override wake(): void {
    if (this.#reader === undefined) {
      super.wake();
    } else {
      this.#deliver();
    }
  }

  override dispose(): void {
    this.#reader = undefined;
    super.dispose();
  }

  protected override aborted(reason: unknown): void {
    this.#reader?.aborted(reason);
  }

  #deliver(): void {
    const reader = this.#reader;
    // The reader stops listening (dispose) when an item ends its stream.
    while (reader !== undefined && reader === this.#reader && !this.#full) {
      const item = this.take();
      if (item === undefined) {
        return;
      }
      this.#full = !reader.deliver(item);
    }
  }
}
