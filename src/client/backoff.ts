import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Waits between reconnections, shared by `watchPosition` and `consume`: a
 * random time up to a ceiling that grows per failure in a row (full jitter),
 * so the many clients of one restarted server do not come back in step.
 */
export interface ReconnectBackoff {
  /** Ceiling of the first wait. Default 100 ms. */
  readonly initialMs?: number;
  /** Ceiling of any wait. Default 5 s. */
  readonly maxMs?: number;
  /** Growth of the ceiling per failure in a row. Default 2. */
  readonly multiplier?: number;
}

/** The wait before reconnecting after `failures` failures in a row (1, 2, …). */
export function reconnectDelayMs(backoff: ReconnectBackoff | undefined, failures: number): number {
  const { initialMs = 100, maxMs = 5_000, multiplier = 2 } = backoff ?? {};
  const ceiling = Math.min(maxMs, initialMs * multiplier ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(Math.random() * ceiling);
}

/** Waits `ms`, or rejects CANCELED (`what` canceled) as soon as `signal` aborts. */
export function pause(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = () => {
      clearTimeout(timer);
      reject(new ConnectError(`${what} canceled`, Code.Canceled, undefined, undefined, signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }, ms);
    if (signal?.aborted === true) aborted();
    else signal?.addEventListener("abort", aborted, { once: true });
  });
}
