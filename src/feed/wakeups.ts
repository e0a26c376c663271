/**
 * In-process wake-ups of a group's subscribers: an Ack received by this
 * process frees room at once for the group's streams served here (streams on
 * other instances notice on their next look).
 */
export class FeedWakeups {
  readonly #waiters = new Map<string, Set<() => void>>();

  /** Resolves at the next `ring` for the group; rejects with `signal.reason` on abort. */
  wait(eventId: string, group: string, signal: AbortSignal): Promise<void> {
    const key = wakeKey(eventId, group);
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const waiters = this.#waiters.get(key) ?? new Set<() => void>();
      this.#waiters.set(key, waiters);
      const done = (): void => {
        waiters.delete(wake);
        if (waiters.size === 0 && this.#waiters.get(key) === waiters) {
          this.#waiters.delete(key);
        }
        signal.removeEventListener("abort", onAbort);
      };
      const wake = (): void => {
        done();
        resolve();
      };
      const onAbort = (): void => {
        done();
        reject(signal.reason);
      };
      waiters.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  ring(eventId: string, group: string): void {
    for (const wake of [...(this.#waiters.get(wakeKey(eventId, group)) ?? [])]) {
      wake();
    }
  }

  /** Groups with a waiting subscriber (what a test checks for leaks). */
  get size(): number {
    return this.#waiters.size;
  }
}

function wakeKey(eventId: string, group: string): string {
  return `${eventId}\n${group}`;
}
