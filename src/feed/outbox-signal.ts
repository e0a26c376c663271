/**
 * Tells a change feed subscriber when to look at an event's outbox again.
 * Kept this small so that a process-wide outbox reader (one blocking read
 * over the streams of every watched event) can stand in for the timer.
 */
export interface OutboxSignal {
  /**
   * Resolves when the event's outbox may have new entries, or entries may
   * have come due for redelivery; rejects with `signal.reason` once `signal`
   * aborts.
   */
  wait(eventId: string, signal: AbortSignal): Promise<void>;
}

/** The simplest signal: look again every `intervalMs`. */
export class PollingOutboxSignal implements OutboxSignal {
  readonly #intervalMs: number;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  wait(_eventId: string, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, this.#intervalMs);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
