import { PUSH, pushStream, type Pushable, type PushHandle, type PushSink } from "../util/push-stream.js";

/** What a wrapper does around a server stream it passes through. */
export interface StreamHooks {
  /** Each message, as it is handed on to the reader. */
  message?(): void;
  /** The stream ended normally. */
  done?(): void;
  /** The stream failed (or `start` threw): returns the error to reject with. */
  failed?(err: unknown): unknown;
  /** Runs once, last, however the stream ended (done, failed, or ended early by its reader). */
  finally?(): void;
}

/**
 * What opens the inner stream: a function, or an object with a `start`
 * method (a wrapper that keeps an object per stream anyway, so its stream
 * costs no closure).
 */
export type StreamStart<T> = (() => AsyncIterable<T>) | { start(): AsyncIterable<T> };

/**
 * A server stream passed through a wrapper (the call policy, the backend
 * guard) without an async generator of its own: `start` runs at the first
 * `next` (so a wrapper's checks still run before the implementation's first
 * step), and each message costs one promise reaction, not a generator's
 * resume, await and yield per layer.
 *
 * Pushed (`[PUSH]`, see `pushStream`), it passes the inner stream's messages
 * on to its sink as they come, with the same hooks, and no promise at all.
 */
export function hookedStream<T>(start: StreamStart<T>, hooks: StreamHooks): AsyncGenerator<T, undefined> {
  return new HookedStream(start, hooks);
}

class HookedStream<T> implements AsyncGenerator<T, undefined>, Pushable<T>, PushSink<T>, PushHandle {
  readonly #start: StreamStart<T>;
  readonly #hooks: StreamHooks;
  #inner: AsyncIterator<T> | undefined;
  #ended = false;
  /** Once pushed: the reader's sink, and the inner stream's handle. */
  #sink: PushSink<T> | undefined;
  #handle: PushHandle | undefined;

  constructor(start: StreamStart<T>, hooks: StreamHooks) {
    this.#start = start;
    this.#hooks = hooks;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #open(): AsyncIterator<T> {
    const start = this.#start;
    return (typeof start === "function" ? start() : start.start())[Symbol.asyncIterator]();
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#ended) {
      return Promise.resolve({ done: true, value: undefined });
    }
    let inner = this.#inner;
    if (inner === undefined) {
      try {
        inner = this.#inner = this.#open();
      } catch (err) {
        return Promise.reject(this.#fail(err));
      }
    }
    return inner.next().then(
      (result) => {
        if (result.done === true) {
          this.#end();
          this.#hooks.done?.();
          this.#hooks.finally?.();
          return { done: true, value: undefined };
        }
        this.#hooks.message?.();
        return result;
      },
      (err: unknown) => {
        throw this.#fail(err);
      },
    );
  }

  /** Ended early by the reader: the inner stream ends too (its cleanup runs) before `finally`. */
  async return(): Promise<IteratorResult<T, undefined>> {
    if (!this.#ended) {
      const inner = this.#end();
      try {
        await inner?.return?.();
      } finally {
        this.#hooks.finally?.();
      }
    }
    return { done: true, value: undefined };
  }

  async throw(err: unknown): Promise<IteratorResult<T, undefined>> {
    await this.return();
    throw err;
  }

  [PUSH](sink: PushSink<T>): PushHandle {
    if (this.#ended || this.#inner !== undefined) {
      throw new Error("a hooked stream is either iterated or pushed, once");
    }
    this.#sink = sink;
    let inner: AsyncIterator<T>;
    try {
      inner = this.#inner = this.#open();
    } catch (err) {
      sink.fail(this.#fail(err));
      return this;
    }
    // This object is the inner stream's sink: the hooks run on the way through.
    this.#handle = pushStream(inner, this);
    return this;
  }

  /** A message of the pushed inner stream, on its way to the reader. */
  push(value: T): boolean {
    if (this.#ended) {
      return false;
    }
    this.#hooks.message?.();
    return (this.#sink as PushSink<T>).push(value);
  }

  /** The pushed inner stream ended. */
  end(): void {
    if (this.#ended) {
      return;
    }
    this.#end();
    this.#hooks.done?.();
    this.#hooks.finally?.();
    (this.#sink as PushSink<T>).end();
  }

  /** The pushed inner stream failed. */
  fail(err: unknown): void {
    if (this.#ended) {
      return;
    }
    (this.#sink as PushSink<T>).fail(this.#fail(err));
  }

  resume(): void {
    this.#handle?.resume();
  }

  /**
   * The reader is gone: the inner stream is ended, then `finally` runs. A
   * pushing inner stream's cleanup runs at once; a generator's `return` is
   * not waited for (as `return` does), it finishes in its own time.
   */
  cancel(): void {
    if (this.#ended) {
      return;
    }
    this.#end();
    const handle = this.#handle;
    this.#handle = undefined;
    try {
      handle?.cancel();
    } finally {
      this.#hooks.finally?.();
    }
  }

  #end(): AsyncIterator<T> | undefined {
    this.#ended = true;
    const inner = this.#inner;
    this.#inner = undefined;
    return inner;
  }

  #fail(err: unknown): unknown {
    this.#end();
    try {
      return this.#hooks.failed ? this.#hooks.failed(err) : err;
    } finally {
      this.#hooks.finally?.();
    }
  }
}
