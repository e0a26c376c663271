import { AbortableWait } from "./abortable-wait.js";

/**
 * One open stream's mailbox: a loop puts items in (subclasses decide how
 * items that pile up while the stream is slow are coalesced), the stream
 * takes them with `next`, which races the stream's abort signal. A slow
 * reader therefore never falls behind by more than one coalesced item, and
 * nothing is buffered per message.
 */
export abstract class Mailbox<Item> extends AbortableWait {
  /** The coalesced item waiting to be taken, cleared by taking it; undefined when none waits. */
  protected abstract take(): Item | undefined;

  /** Whether the stream ends after delivering `item`. */
  abstract isFinal(item: Item): boolean;

  /** `next`, bound once: what a wait continues with. */
  readonly #again = (): Promise<Item> => this.next();

  /** The next item, or a rejection with the signal's reason once it aborts. */
  next(): Promise<Item> {
    const item = this.take();
    if (item !== undefined) {
      return Promise.resolve(item);
    }
    return this.wait().then(this.#again);
  }
}
