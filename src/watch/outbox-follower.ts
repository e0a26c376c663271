/** A change feed subscription's hold on an event's notifications (`OutboxReader.follow`). */
export interface OutboxFollow {
  /**
   * Resolves at the first notification since the previous `wait` returned
   * (at once if one came meanwhile), or after the safety poll's interval;
   * rejects with `signal.reason` once `signal` aborts.
   */
  wait(signal: AbortSignal): Promise<void>;
  /** Stops following; a pending `wait` is left to its signal. */
  close(): void;
}

/**
 * One follower: a flag that notifications set and `wait` clears, so a
 * notification arriving while the subscription runs its delivery step (after
 * Redis ran it, before the reply came back) is not lost: the next `wait`
 * returns at once and the step after it sees the entry.
 */
export class OutboxFollower implements OutboxFollow {
  readonly #pollMs: number;
  readonly #onClose: () => void;
  #signalled = false;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(pollMs: number, onClose: () => void) {
    this.#pollMs = pollMs;
    this.#onClose = onClose;
  }

  /** A notification: the event's outbox may have new entries. */
  signal(): void {
    this.#signalled = true;
    this.#wake?.();
  }

  wait(signal: AbortSignal): Promise<void> {
    if (signal.aborted) {
      return Promise.reject(signal.reason);
    }
    if (this.#signalled) {
      this.#signalled = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#wake = undefined;
        this.#signalled = false;
      };
      const wake = (): void => {
        settle();
        resolve();
      };
      const onAbort = (): void => {
        settle();
        reject(signal.reason);
      };
      const timer = setTimeout(wake, this.#pollMs);
      this.#wake = wake;
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  close(): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#onClose();
    }
  }
}
