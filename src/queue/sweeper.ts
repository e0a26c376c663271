import type { Logger } from "pino";
import type { QueueStore } from "./queue-store.js";

export interface SweeperOptions {
  readonly intervalMs: number;
  /** Idle waiters expired per script call. */
  readonly batch: number;
  readonly logger: Logger;
}

/**
 * Expires idle waiters of every configured event, so places are freed even
 * when nobody calls the event. Every server instance runs one; the scripts
 * are atomic, so instances never double-expire. Walks the event index set,
 * never the key space.
 */
export class Sweeper {
  readonly #store: QueueStore;
  readonly #options: SweeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(store: QueueStore, options: SweeperOptions) {
    this.#store = store;
    this.#options = options;
  }

  start(): void {
    this.#schedule();
  }

  /** One pass over every event; also what tests call to sweep on demand. */
  async sweepAll(): Promise<number> {
    let expired = 0;
    const ids = await this.#store.eventIds();
    await Promise.all(
      ids.map(async (eventId) => {
        for (;;) {
          const result = await this.#store.sweep(eventId, this.#options.batch);
          if (result.kind !== "swept") {
            return;
          }
          expired += result.expired;
          if (!result.more || this.#stopped) {
            return;
          }
        }
      }),
    );
    return expired;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) {
      return;
    }
    this.#timer = setTimeout(() => {
      this.#running = this.sweepAll()
        .then(
          (expired) => {
            if (expired > 0) {
              this.#options.logger.debug({ expired }, "expired idle waiters");
            }
          },
          (err: unknown) => this.#options.logger.warn({ err }, "sweep failed"),
        )
        .finally(() => this.#schedule());
    }, this.#options.intervalMs);
    this.#timer.unref();
  }
}
