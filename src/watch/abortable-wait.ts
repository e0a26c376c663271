/**
 * Waiting that one abort signal ends, with a single listener on the signal
 * for the object's whole life (a listener per wait costs an allocation and a
 * registration on every message of a long stream). `wait` resolves at the
 * next `wake` and rejects with `signal.reason` once the signal aborts:
 * rethrowing the reason, not a bare AbortError (which clients would see as
 * `internal`), lets the client learn the code the server chose.
 *
 * A `wake` with nobody waiting is not remembered: callers check their own
 * state before waiting, and wait again until it is what they need.
 */
export class AbortableWait {
  readonly #signal: AbortSignal;
  readonly #onAbort: () => void;
  #resolve: (() => void) | undefined;
  #reject: ((reason: unknown) => void) | undefined;

  /** Listens to `signal` once; call `dispose` when done. */
  constructor(signal: AbortSignal) {
    this.#signal = signal;
    this.#onAbort = () => {
      const reject = this.#reject;
      this.#resolve = this.#reject = undefined;
      reject?.(signal.reason);
      this.aborted(signal.reason);
    };
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /**
   * Resolves at the next `wake`; rejects with the signal's reason once it
   * aborts (at once if it has). Not an async function: one promise per wait,
   * nothing else allocated (a long stream waits once per message).
   */
  wait(): Promise<void> {
    if (this.#signal.aborted) {
      return Promise.reject(this.#signal.reason);
    }
    return new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Ends the current wait, if any. */
  wake(): void {
    const resolve = this.#resolve;
    if (resolve !== undefined) {
      this.#resolve = this.#reject = undefined;
      resolve();
    }
  }

  /** The signal aborted (once, whether anyone waited or not): for subclasses that deliver without waiting. */
  protected aborted(_reason: unknown): void {}

  dispose(): void {
    this.#signal.removeEventListener("abort", this.#onAbort);
  }
}
