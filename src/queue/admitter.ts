import type { Logger } from "pino";
import { FailureLog } from "../util/failure-log.js";
import { QueueDefaults } from "./scripts.js";
import type { AdmitOptions, AdmitResult } from "./types.js";

/** What the admitter needs of a store (a `QueueStore`): the event index and one admission step. */
export interface AdmitTarget {
  eventIds(): Promise<string[]>;
  admit(eventId: string, options: AdmitOptions): Promise<AdmitResult>;
}

export interface AdmitterOptions {
  /** Pause between two ticks (default `QueueDefaults.admitIntervalMs`). */
  readonly intervalMs?: number;
  /** Users admitted per script call (default `QueueDefaults.admitBatch`). */
  readonly maxAdmissions?: number;
  /** Lapsed sessions ended per script call (default `QueueDefaults.sessionBatch`). */
  readonly sessionBatch?: number;
  readonly logger: Logger;
}

/** What one tick did, summed over every event. */
export interface AdmitterTick {
  readonly admitted: number;
  readonly sessionsEnded: number;
}

/**
 * Lets users in. Every server instance runs one: each tick runs one atomic
 * admission step (`QueueStore.admit`) per event of the event index, repeated
 * while a step reports more due work. The token bucket and the line live in
 * Redis, so any number of instances together admit at each event's
 * configured rate, without a leader and without admitting anyone twice.
 */
export class Admitter {
  readonly #target: AdmitTarget;
  readonly #intervalMs: number;
  readonly #limits: AdmitOptions;
  readonly #logger: Logger;
  readonly #failures: FailureLog;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(target: AdmitTarget, options: AdmitterOptions) {
    const intervalMs = options.intervalMs ?? QueueDefaults.admitIntervalMs;
    if (!(intervalMs > 0 && intervalMs < QueueDefaults.rateMaxGapMs)) {
      // A longer pause would read as an idle line to the measured admission rate.
      throw new RangeError(`admitter interval must be between 0 and ${QueueDefaults.rateMaxGapMs} ms, got ${intervalMs}`);
    }
    this.#target = target;
    this.#intervalMs = intervalMs;
    this.#limits = {
      maxAdmissions: options.maxAdmissions ?? QueueDefaults.admitBatch,
      sessionBatch: options.sessionBatch ?? QueueDefaults.sessionBatch,
    };
    this.#logger = options.logger;
    this.#failures = new FailureLog({ logger: options.logger, failed: "admission tick failed", recovered: "admission ticks succeed again" });
  }

  start(): void {
    this.#schedule();
  }

  /** One tick over every event, until no step reports more due work. Also what tests call. */
  async tickAll(): Promise<AdmitterTick> {
    let admitted = 0;
    let sessionsEnded = 0;
    const ids = await this.#target.eventIds();
    await Promise.all(
      ids.map(async (eventId) => {
        for (;;) {
          const step = await this.#target.admit(eventId, this.#limits);
          if (step.kind !== "admission") {
            return;
          }
          admitted += step.admitted;
          sessionsEnded += step.sessionsEnded;
          if (!step.more || this.#stopped) {
            return;
          }
        }
      }),
    );
    return { admitted, sessionsEnded };
  }

  /** Stops scheduling and waits for a tick in flight. */
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
      this.#running = this.tickAll()
        .then(
          (tick) => {
            this.#failures.succeeded();
            if (tick.admitted > 0 || tick.sessionsEnded > 0) {
              this.#logger.debug(tick, "admission tick");
            }
          },
          // Keeps ticking: a Redis outage ends when Redis answers the next tick.
          (err: unknown) => this.#failures.failed(err),
        )
        .finally(() => this.#schedule());
    }, this.#intervalMs);
    this.#timer.unref();
  }
}
