import type { Logger } from "pino";
import { FailureLog } from "../util/failure-log.js";
import { Outcome } from "./outcomes.js";
import { Reply } from "./reply.js";

/** What one bounded sweep of an event did. */
export type SweepResult =
  | { readonly kind: "swept"; readonly expired: number; readonly more: boolean }
  | { readonly kind: "event_not_found" };

/** Decodes the `{code, expired, more}` reply every sweep script returns. */
export function decodeSweepReply(script: string, raw: unknown): SweepResult {
  const reply = new Reply(script, raw, 3);
  const code = reply.int(0);
  switch (code) {
    case Outcome.OK:
      return { kind: "swept", expired: reply.int(1), more: reply.int(2) === 1 };
    case Outcome.EVENT_NOT_FOUND:
      return { kind: "event_not_found" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

/** A store whose events need periodic maintenance, one bounded script call at a time. */
export interface SweepTarget {
  /** Every event the store knows (an index set, never a key scan). */
  eventIds(): Promise<string[]>;
  /**
   * One bounded step over one event: expires up to `limit` due items (seat
   * holds), or walks up to `limit` items looking for due ones and expires a
   * bounded number of them (idle waiters); `more` when another step is due now.
   */
  sweep(eventId: string, limit: number): Promise<SweepResult>;
}

export interface EventSweeperOptions {
  readonly intervalMs: number;
  /** Items expired per script call. */
  readonly batch: number;
  /** What is swept, for the logs ("idle waiters", "seat holds"). */
  readonly what: string;
  readonly logger: Logger;
}

/**
 * Expires what is due in every event of a store — idle waiters, expired seat
 * holds — and trims each event's outbox to its retention, so both happen even
 * when nobody calls the event. Every server instance runs one per store; the
 * scripts are atomic, so instances never expire anything twice.
 */
export class EventSweeper {
  readonly #target: SweepTarget;
  readonly #options: EventSweeperOptions;
  readonly #failures: FailureLog;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(target: SweepTarget, options: EventSweeperOptions) {
    this.#target = target;
    this.#options = options;
    this.#failures = new FailureLog({
      logger: options.logger,
      failed: "sweep failed",
      recovered: "sweeps succeed again",
      fields: { what: options.what },
    });
  }

  start(): void {
    this.#schedule();
  }

  /**
   * One pass over every event, until nothing due is left; resolves with how
   * many items expired. Also what tests call to sweep on demand. An event's
   * steps go one at a time, each its own script call, the next sent only
   * once the previous one answered: Redis serves everyone else's commands
   * between two steps, so no pass holds it longer than its longest step.
   */
  async sweepAll(): Promise<number> {
    let expired = 0;
    const ids = await this.#target.eventIds();
    await Promise.all(
      ids.map(async (eventId) => {
        for (;;) {
          const result = await this.#target.sweep(eventId, this.#options.batch);
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
      const { logger, what } = this.#options;
      this.#running = this.sweepAll()
        .then(
          (expired) => {
            this.#failures.succeeded();
            if (expired > 0) {
              logger.debug({ expired, what }, "swept expired items");
            }
          },
          // Keeps sweeping: a Redis outage ends when Redis answers the next pass.
          (err: unknown) => this.#failures.failed(err),
        )
        .finally(() => this.#schedule());
    }, this.#options.intervalMs);
    this.#timer.unref();
  }
}
