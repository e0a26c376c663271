import { AbortableWait } from "./abortable-wait.js";

/**
 * The items of `iterable` until `signal` aborts, then a rejection with the
 * signal's reason. A bidi handler blocked on the next request would otherwise
 * not notice a server shutdown while the client stays silent.
 */
export async function* untilAborted<T>(iterable: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = iterable[Symbol.asyncIterator]();
  const gate = new AbortableWait(signal);
  try {
    for (;;) {
      let settled: { ok: true; result: IteratorResult<T> } | { ok: false; error: unknown } | undefined;
      // Observed here whatever happens, so a late rejection is never unhandled.
      iterator.next().then(
        (result) => {
          settled = { ok: true, result };
          gate.wake();
        },
        (error: unknown) => {
          settled = { ok: false, error };
          gate.wake();
        },
      );
      while (settled === undefined) {
        await gate.wait();
      }
      // The callbacks above assign it; the checker cannot see that across the await.
      const outcome = settled as { ok: true; result: IteratorResult<T> } | { ok: false; error: unknown };
      if (!outcome.ok) throw outcome.error;
      if (outcome.result.done) return;
      yield outcome.result.value;
    }
  } finally {
    gate.dispose();
  }
}
