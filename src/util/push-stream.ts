/**
 * A server stream read by push rather than by `next`: the source hands each
 * message to its sink as soon as it has one, synchronously, so a message
 * that a loop produces reaches the transport's write in the same turn,
 * without a promise reaction per layer in between. The gRPC port reads its
 * streams this way; the Connect port (and anything else that wants an
 * async iterable) keeps calling `next` on the same objects.
 *
 * A stream that cannot push (an async generator) is pushed by `pushStream`
 * from its `next`, so a reader can always use this interface.
 */
export interface PushSink<T> {
  /**
   * One message. False when the sink is full: the source sends nothing more
   * until `resume` (a source that coalesces keeps only its newest message meanwhile).
   */
  push(value: T): boolean;
  /** The stream ended normally, after its last message. */
  end(): void;
  /** The stream failed; nothing follows. */
  fail(err: unknown): void;
}

/** The reader's side of a pushed stream. */
export interface PushHandle {
  /** The sink can take messages again (after a `push` answered false). */
  resume(): void;
  /**
   * The reader is gone (its call was cancelled while the sink was full, say):
   * the source ends as an iterator does on `return`, its cleanup runs, and
   * the sink hears nothing more.
   */
  cancel(): void;
}

/** The method of a stream that can push; see `pushStream`. */
export const PUSH: unique symbol = Symbol("push");

/** A stream that hands its messages to a sink itself. */
export interface Pushable<T> {
  [PUSH](sink: PushSink<T>): PushHandle;
}

/** Whether `source` can push its messages itself. */
export function canPush<T>(source: unknown): source is Pushable<T> {
  return typeof source === "object" && source !== null && typeof (source as Partial<Pushable<T>>)[PUSH] === "function";
}

/**
 * Starts pushing `source` into `sink`: by the source itself when it can, or
 * by a loop over its `next` otherwise (one pending `next` at a time, none
 * while the sink is full).
 */
export function pushStream<T>(source: AsyncIterable<T> | AsyncIterator<T>, sink: PushSink<T>): PushHandle {
  if (canPush<T>(source)) {
    return source[PUSH](sink);
  }
  const iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source;
  if (canPush<T>(iterator)) {
    return iterator[PUSH](sink);
  }
  const pump = new IteratorPump(iterator, sink);
  pump.resume();
  return pump;
}

/** Pushes an iterator that cannot push: each message is one `next`. */
class IteratorPump<T> implements PushHandle {
  readonly #iterator: AsyncIterator<T>;
  readonly #sink: PushSink<T>;
  #pulling = false;
  #blocked = false;
  #over = false;

  constructor(iterator: AsyncIterator<T>, sink: PushSink<T>) {
    this.#iterator = iterator;
    this.#sink = sink;
  }

  readonly #took = (result: IteratorResult<T>): void => {
    this.#pulling = false;
    if (this.#over) {
      return;
    }
    if (result.done === true) {
      this.#over = true;
      this.#sink.end();
      return;
    }
    if (this.#sink.push(result.value)) {
      this.#pull();
    } else {
      this.#blocked = true;
    }
  };

  readonly #failed = (err: unknown): void => {
    this.#pulling = false;
    if (!this.#over) {
      this.#over = true;
      this.#sink.fail(err);
    }
  };

  resume(): void {
    this.#blocked = false;
    this.#pull();
  }

  cancel(): void {
    if (this.#over) {
      return;
    }
    this.#over = true;
    // The iterator's own cleanup; how it went is nobody's business now.
    this.#iterator.return?.().catch(() => undefined);
  }

  #pull(): void {
    if (this.#pulling || this.#blocked || this.#over) {
      return;
    }
    this.#pulling = true;
    let step: Promise<IteratorResult<T>>;
    try {
      step = this.#iterator.next();
    } catch (err) {
      this.#failed(err);
      return;
    }
    step.then(this.#took, this.#failed);
  }
}
