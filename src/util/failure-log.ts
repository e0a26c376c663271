import type { Logger } from "pino";

export interface FailureLogOptions {
  readonly logger: Logger;
  /** Logged (warn) with the error when a new kind of failure starts. */
  readonly failed: string;
  /** Logged (info) with the number of failed runs when a run succeeds again. */
  readonly recovered: string;
  /** Fields logged with both, e.g. what a sweeper sweeps. */
  readonly fields?: Readonly<Record<string, unknown>>;
}

/**
 * The logging of a background loop that keeps running through failures (a
 * Redis outage fails every tick): each distinct failure is logged once, not
 * once per tick, and the recovery once with how many runs failed.
 */
export class FailureLog {
  readonly #options: FailureLogOptions;
  #last: string | undefined;
  #failures = 0;

  constructor(options: FailureLogOptions) {
    this.#options = options;
  }

  /** True while the last run failed. */
  get failing(): boolean {
    return this.#last !== undefined;
  }

  failed(err: unknown): void {
    this.#failures++;
    const kind = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    if (kind === this.#last) {
      return;
    }
    this.#last = kind;
    this.#options.logger.warn({ ...this.#options.fields, err }, this.#options.failed);
  }

  succeeded(): void {
    if (this.#last === undefined) {
      return;
    }
    this.#options.logger.info({ ...this.#options.fields, failedRuns: this.#failures }, this.#options.recovered);
    this.#last = undefined;
    this.#failures = 0;
  }
}
