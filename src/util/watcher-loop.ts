/**
 * The life of a per-event fan-out loop, shared by WatchPosition and
 * WatchAvailability: started by its first watcher, ticking while anyone
 * watches (at once while new watchers wait, else after `intervalMs` or when
 * woken), stopped right after the last watcher leaves. Subclasses say what a
 * tick does and how watchers fail.
 */
export abstract class WatcherLoop<W> {
  /** Watchers waiting for their first snapshot. */
  protected readonly pending = new Set<W>();
  /** Watchers that have had their snapshot and follow changes. */
  protected readonly live = new Set<W>();
  /** Resolves once the loop has stopped. */
  done: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;
  /** Callers of `ticked` waiting for a tick that starts after their call. */
  #tickWaiters: Array<() => void> = [];

  get size(): number {
    return this.live.size + this.pending.size;
  }

  add(watcher: W): void {
    this.pending.add(watcher);
    this.#wake?.();
  }

  remove(watcher: W): void {
    this.pending.delete(watcher);
    this.live.delete(watcher);
    if (this.size === 0) {
      this.#wake?.();
    }
  }

  /**
   * Resolves once a tick that starts after this call has finished (or the
   * loop has stopped): a point from which everything the tick does is done.
   */
  ticked(): Promise<void> {
    return new Promise<void>((resolve) => this.#tickWaiters.push(resolve));
  }

  /** Call last in the subclass constructor, once its own fields are set. */
  protected start(first: W, intervalMs: number, onStopped: () => void): void {
    this.pending.add(first);
    this.done = this.#run(intervalMs, onStopped);
  }

  /** One tick; resolves true when another is due at once. */
  protected abstract tick(): Promise<boolean>;

  /** A tick threw (Redis gone, or a bug): every watcher must hear of it. */
  protected abstract failed(cause: unknown): void;

  async #run(intervalMs: number, onStopped: () => void): Promise<void> {
    try {
      while (this.size > 0) {
        let again: boolean;
        const waiters = this.#tickWaiters;
        this.#tickWaiters = [];
        try {
          again = await this.tick();
        } catch (cause) {
          this.failed(cause);
          this.pending.clear();
          this.live.clear();
          return;
        } finally {
          waiters.forEach((resolve) => resolve());
        }
        if (!again && this.pending.size === 0 && this.size > 0) {
          await this.#sleep(intervalMs);
        } else {
          // Back to back: let sockets and callers (of \`ticked\` too) run first.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      // Synchronous with the last size check: no watcher can slip in between.
      onStopped();
      this.#tickWaiters.forEach((resolve) => resolve());
      this.#tickWaiters = [];
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    }).finally(() => {
      this.#wake = undefined;
    });
  }
}
