import type { CallLog } from "./call-log.js";

const next = <T>(it: AsyncIterator<T>): Promise<IteratorResult<T>> => it.next();
const finish = <T>(it: AsyncIterator<T>): Promise<IteratorResult<T>> => it.return?.() ?? Promise.resolve({ done: true, value: undefined });

/**
 * A stream's messages with each step run in the call's context (see
 * `CallLog.within`). A generator's body runs in the context of whoever calls
 * its `next`, here the transport, so a context set once when the stream
 * starts would be lost at its first `await`; each step is entered anew
 * instead. Only for calls whose observer keeps a context (`log.scoped`).
 */
export async function* scopedStream<T>(log: CallLog, source: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      const step = await log.within(next<T>, it, undefined);
      if (step.done === true) {
        ended = true;
        return;
      }
      yield step.value;
    }
  } catch (err) {
    ended = true;
    throw err;
  } finally {
    if (!ended) {
      // The transport stopped reading: end the source in the call's context too.
      await log.within(finish<T>, it, undefined);
    }
  }
}
