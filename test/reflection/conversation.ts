/**
 * Drives a bidi stream one request at a time: `ask` sends a request and
 * resolves with the next response, so a test can hold one reflection stream
 * open across several questions, as real clients do.
 */
export interface Conversation<Req, Res> {
  ask(request: Req): Promise<Res>;
  /** Waits for whatever the server does next without asking anything: a response, the end, or an error. */
  listen(): Promise<IteratorResult<Res>>;
  /** Half-closes the request side; the server then ends the stream. */
  close(): Promise<void>;
}

export function converse<Req, Res>(call: (requests: AsyncIterable<Req>) => AsyncIterable<Res>): Conversation<Req, Res> {
  const outbox = new Outbox<Req>();
  const responses = call(outbox)[Symbol.asyncIterator]();
  return {
    async ask(request) {
      outbox.push(request);
      const next = await responses.next();
      if (next.done) throw new Error("stream ended before answering");
      return next.value;
    },
    listen() {
      return responses.next();
    },
    async close() {
      outbox.end();
      const next = await responses.next();
      if (!next.done) throw new Error("server sent a response nobody asked for");
    },
  };
}

/** An async iterable fed by `push`; iteration waits for the next push or `end`. */
class Outbox<T> implements AsyncIterable<T> {
  private readonly queue: T[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  push(value: T): void {
    this.queue.push(value);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const value = this.queue.shift();
      if (value !== undefined) {
        yield value;
      } else if (this.ended) {
        return;
      } else {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    }
  }
}
