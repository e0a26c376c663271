/**
 * The items of `iterable` until `signal` aborts, then a rejection with the
 * signal's reason. A bidi handler blocked on the next request would otherwise
 * not notice a server shutdown while the client stays silent; rethrowing the
 * reason (not a bare AbortError, which clients would see as `internal`) lets
 * the client learn the code the server chose.
 */
export async function* untilAborted<T>(iterable: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = iterable[Symbol.asyncIterator]();
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
  });
  // Observed here so an abort while the consumer is not waiting on us is not
  // reported as an unhandled rejection; the next race still sees it.
  aborted.catch(() => undefined);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
