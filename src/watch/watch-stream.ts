import { PUSH, type Pushable, type PushHandle, type PushSink } from "../util/push-stream.js";
import type { Mailbox, MailboxReader } from "./mailbox.js";

/**
 * Where a stream's watcher comes from: `open` registers it (at the first
 * `next`), `close` unregisters it, once. One object rather than two closures:
 * an open stream keeps it for its whole life.
 */
export interface WatchRegistration<Item> {
  open(): Mailbox<Item>;
  close(watcher: Mailbox<Item>): void;
}

/**
 * One watch stream as an async iterator over its mailbox, each item mapped
 * as it is taken: a plain object rather than an async generator, so a
 * message costs one promise reaction here instead of a generator's resume,
 * await and yield at every layer. It ends after a final item; ending it
 * early (`return`), an abort, or a throwing `map` removes the watcher.
 *
 * Or it is pushed (`[PUSH]`, for the gRPC port): the mailbox then hands each
 * item over as the loop puts it in, and the mapped message goes to the sink
 * in the same turn; while the sink is full the mailbox coalesces, as it does
 * for a slow `next`.
 */
export class WatchStream<Item, Out> implements AsyncGenerator<Out, undefined>, Pushable<Out>, MailboxReader<Item>, PushHandle {
  readonly #registration: WatchRegistration<Item>;
  readonly #map: (item: Item) => Out;
  readonly #signal: AbortSignal;
  #watcher: Mailbox<Item> | undefined;
  #done = false;
  /** Where items go once pushed. */
  #sink: PushSink<Out> | undefined;

  /** `registration` opens the stream's watcher at the first `next`, and closes it once. */
  constructor(registration: WatchRegistration<Item>, map: (item: Item) => Out, signal: AbortSignal) {
    this.#registration = registration;
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
      watcher = this.#watcher = this.#registration.open();
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

  [PUSH](sink: PushSink<Out>): PushHandle {
    if (this.#done || this.#watcher !== undefined) {
      throw new Error("a watch stream is either iterated or pushed, once");
    }
    this.#sink = sink;
    if (this.#signal.aborted) {
      this.#done = true;
      sink.fail(this.#signal.reason);
      return this;
    }
    const watcher = (this.#watcher = this.#registration.open());
    watcher.listen(this);
    return this;
  }

  /** From the mailbox: one item, mapped and pushed now. */
  deliver(item: Item): boolean {
    const sink = this.#sink as PushSink<Out>;
    const final = (this.#watcher as Mailbox<Item>).isFinal(item);
    if (final) {
      this.#finish();
    }
    let room: boolean;
    try {
      room = sink.push(this.#map(item));
    } catch (err) {
      // A throwing `map` (or sink) ends the stream with its error, as `next` does.
      this.#finish();
      sink.fail(err);
      return false;
    }
    if (final) {
      sink.end();
    }
    return room;
  }

  /** From the mailbox: the signal aborted. */
  aborted(reason: unknown): void {
    if (!this.#done) {
      this.#finish();
      this.#sink?.fail(reason);
    }
  }

  resume(): void {
    this.#watcher?.resume();
  }

  cancel(): void {
    this.#finish();
  }

  #finish(): void {
    this.#done = true;
    const watcher = this.#watcher;
    if (watcher !== undefined) {
      this.#watcher = undefined;
      this.#registration.close(watcher);
    }
  }
}
