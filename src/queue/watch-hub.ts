import type { Logger } from "pino";
import type { QueueStore } from "./queue-store.js";
import { WatchLoop, type WatchLoopOptions } from "./watch-loop.js";
import { isFinal, Watcher, type WatchItem } from "./watcher.js";

export type WatchHubOptions = Omit<WatchLoopOptions, "logger"> & { readonly logger: Logger };

/**
 * The process-wide fan-out for WatchPosition: one `WatchLoop` per event with
 * local watchers, started by the first watcher and stopped after the last.
 */
export class WatchHub {
  readonly #store: QueueStore;
  readonly #options: WatchHubOptions;
  readonly #loops = new Map<string, WatchLoop>();

  constructor(store: QueueStore, options: WatchHubOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Events with a running loop. */
  get eventsWatched(): number {
    return this.#loops.size;
  }

  /** Resolves once the event's loop has stopped (at once if none runs). */
  async stopped(eventId: string): Promise<void> {
    await this.#loops.get(eventId)?.done;
  }

  /** Resolves once a tick of the event's loop that starts after this call has finished (at once if none runs). */
  async ticked(eventId: string): Promise<void> {
    await this.#loops.get(eventId)?.ticked();
  }

  /**
   * Streams a user's ticket: the current one first, then each change, ending
   * after a terminal ticket or a failure item. Rejects with `signal.reason`
   * once the signal aborts; the watcher is unregistered in every case.
   */
  async *watch(eventId: string, userId: string, signal: AbortSignal): AsyncGenerator<WatchItem> {
    signal.throwIfAborted();
    const watcher = new Watcher(userId, signal);
    const loop = this.#register(eventId, watcher);
    try {
      for (;;) {
        const item = await watcher.next();
        yield item;
        if (isFinal(item)) {
          return;
        }
      }
    } finally {
      loop.remove(watcher);
      watcher.dispose();
    }
  }

  #register(eventId: string, watcher: Watcher): WatchLoop {
    const running = this.#loops.get(eventId);
    if (running) {
      running.add(watcher);
      return running;
    }
    const loop: WatchLoop = new WatchLoop(eventId, this.#store, this.#options, watcher, () => {
      if (this.#loops.get(eventId) === loop) {
        this.#loops.delete(eventId);
      }
    });
    this.#loops.set(eventId, loop);
    return loop;
  }
}
