import type { Mailbox } from "./mailbox.js";

/**
 * One watch stream as an async iterator over its mailbox, each item mapped
 * as it is taken: a plain object rather than an async generator, so a
 * message costs one promise reaction here instead of a generator's resume,
 * await and yield at every layer. It ends after a final item; ending it
 * early (`return`), an abort, or a throwing `map` removes the watcher.
 */
export class WatchStream<Item, Out> implements AsyncGenerator<Out, undefined> {
  readonly #open: () => Mailbox<Item>;
  readonly #close: (watcher: Mailbox<Item>) => void;
  readonly #map: (item: Item) => Out;
  readonly #signal: AbortSignal;
  #watcher: Mailbox<Item> | undefined;
  #done = false;

  /** `open` registers the stream's watcher at the first `next`; `close` unregisters it, once. */
  constructor(open: () => Mailbox<Item>, close: (watcher: Mailbox<Item>) => void, map: (item: Item) => Out, signal: AbortSignal) {
    this.#open = open;
    this.#close = close;
    this.#map = map;
    this.#signal = signal;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Out, undefined>> {
    if (this.#done) {
      return Promise.resolve({ done: true, value: undefined });
    }
    let watcher = this.#watcher;
    if (watcher === undefined) {
      if (this.#signal.aborted) {
        this.#done = true;
        return Promise.reject(this.#signal.reason);
      }
      watcher = this.#watcher = this.#open();
    }
    return watcher.next().then(
      (item) => {
        if ((watcher as Mailbox<Item>).isFinal(item)) {
          this.#finish();
        }
        try {
          return { done: false, value: this.#map(item) };
        } catch (err) {
          this.#finish();
          throw err;
        }
      },
      (err: unknown) => {
        this.#finish();
        throw err;
      },
    );
  }

  return(): Promise<IteratorResult<Out, undefined>> {
    this.#finish();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** As a generator does when thrown into: ends the stream and rejects with `err`. */
  throw(err: unknown): Promise<IteratorResult<Out, undefined>> {
    this.#finish();
    return Promise.reject(err);
  }

  #finish(): void {
    this.#done = true;
    const watcher = this.#watcher;
    if (watcher !== undefined) {
      this.#watcher = undefined;
      this.#close(watcher);
    }
  }
}
