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
 *
 * Two waits return at least `gapMs` apart when woken by notifications: a busy
 * event (thousands of appends a second) costs each subscription at most one
 * step per gap, not one per append, and every subscription of the event
 * woken by the same append does not step for each one. The poll is not held
 * back.
 */
export class OutboxFollower implements OutboxFollow {
  readonly #pollMs: number;
  readonly #gapMs: number;
  readonly #onClose: () => void;
  #signalled = false;
  #wake: (() => void) | undefined;
  #lastReturn = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(pollMs: number, gapMs: number, onClose: () => void) {
    this.#pollMs = pollMs;
    this.#gapMs = gapMs;
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
    return new Promise<void>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#wake = undefined;
      };
      const done = (): void => {
        settle();
        // Notifications until now are of entries the next step sees.
        this.#signalled = false;
        this.#lastReturn = performance.now();
        resolve();
      };
      const onAbort = (): void => {
        settle();
        reject(signal.reason);
      };
      const wake = (): void => {
        const early = this.#lastReturn + this.#gapMs - performance.now();
        if (early <= 0) {
          done();
          return;
        }
        // Too soon after the last look: look when the gap is over (further notifications only set the flag).
        this.#wake = undefined;
        clearTimeout(timer);
        timer = setTimeout(done, early);
      };
      let timer = setTimeout(done, this.#pollMs);
      signal.addEventListener("abort", onAbort, { once: true });
      if (this.#signalled) {
        wake();
      } else {
        this.#wake = wake;
      }
    });
  }

  close(): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#onClose();
    }
  }
}
