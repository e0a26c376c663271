import { Code, ConnectError, type CallOptions } from "@connectrpc/connect";
import { pause, reconnectDelayMs, type ReconnectBackoff } from "./backoff.js";

/**
 * The codes after which a call's outcome is unknown: UNAVAILABLE (the server
 * or its Redis went away mid-call, or refused it) and DEADLINE_EXCEEDED (no
 * answer in time). The call may have taken effect or not; only a call that is
 * safe to repeat (see the README's "Retries and unknown outcomes") may be sent
 * again. Every other code is an answer.
 */
export const UNKNOWN_OUTCOME_CODES: readonly Code[] = Object.freeze([Code.Unavailable, Code.DeadlineExceeded]);

export interface RetryOptions {
  /** Attempts in all, the first included. Default 4. */
  readonly maxAttempts?: number;
  /**
   * Deadline of each attempt, so one that hangs fails with DEADLINE_EXCEEDED
   * and is tried again. Default none: an attempt lasts as long as the server
   * takes (it fails fast with UNAVAILABLE when Redis is gone).
   */
  readonly attemptTimeoutMs?: number;
  /** Stops retrying and cancels the attempt in flight (it fails with CANCELED). */
  readonly signal?: AbortSignal;
  /** Sent with every attempt, e.g. credentials. */
  readonly headers?: CallOptions["headers"];
  /** Waits between attempts; default 100 ms growing to 5 s, full jitter. */
  readonly backoff?: ReconnectBackoff;
  /**
   * Told before each retry, for logs and metrics; a promise it returns is
   * awaited after the backoff (e.g. to wait until the server reports SERVING).
   */
  readonly onRetry?: (event: { readonly error: ConnectError; readonly attempt: number; readonly delayMs: number }) => void | Promise<void>;
}

/**
 * Calls `attempt` until it succeeds, fails with a code that is an answer, or
 * `maxAttempts` ran out (the last error is thrown). Only for calls whose
 * repeat converges on the first one's effect: reads, and writes idempotent by
 * nature or by a key in the request that stays the same for every attempt.
 *
 * ```ts
 * const { hold } = await callWithRetries((options) => seats.confirmHold(request, options));
 * ```
 */
export async function callWithRetries<T>(attempt: (options: CallOptions) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 4;
  const callOptions: CallOptions = { signal: options.signal, headers: options.headers, timeoutMs: options.attemptTimeoutMs };
  for (let number = 1; ; number++) {
    try {
      return await attempt(callOptions);
    } catch (err) {
      const error = ConnectError.from(err);
      if (options.signal?.aborted === true || !UNKNOWN_OUTCOME_CODES.includes(error.code) || number >= maxAttempts) throw error;
      const delayMs = reconnectDelayMs(options.backoff, number);
      await pause(delayMs, options.signal, "retry");
      await options.onRetry?.({ error, attempt: number + 1, delayMs });
    }
  }
}
