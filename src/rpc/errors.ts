import { Code, ConnectError } from "@connectrpc/connect";
import { Reason } from "../../gen/boxoffice/v1/errors_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

/** The `ErrorInfo.domain` of every error this service returns. */
export const ERROR_DOMAIN = "boxoffice.v1";

/** `Reason.QUEUE_CLOSED` → "QUEUE_CLOSED": the stable name callers branch on. */
export function reasonName(reason: Reason): string {
  return Reason[reason];
}

/**
 * An expected failure: a canonical code plus an `ErrorInfo` whose reason is a
 * `boxoffice.v1.Reason` name. Metadata carries the ids that make the error
 * actionable (never secrets).
 */
export function reasonError(
  code: Code,
  reason: Reason,
  message: string,
  metadata: Record<string, string> = {},
): ConnectError {
  return new ConnectError(message, code, undefined, [
    { desc: ErrorInfoSchema, value: { reason: reasonName(reason), domain: ERROR_DOMAIN, metadata } },
  ]);
}

export interface FieldViolation {
  /** Dotted path in the request, e.g. `event_id` or `config.admit_burst`. */
  readonly field: string;
  readonly description: string;
}

/** INVALID_ARGUMENT with a `BadRequest` listing every offending field, plus `ErrorInfo`. */
export function invalidRequest(violations: readonly FieldViolation[]): ConnectError {
  const summary = violations.map((v) => `${v.field}: ${v.description}`).join("; ");
  return new ConnectError(`invalid request: ${summary}`, Code.InvalidArgument, undefined, [
    { desc: ErrorInfoSchema, value: { reason: reasonName(Reason.INVALID_REQUEST), domain: ERROR_DOMAIN } },
    {
      desc: BadRequestSchema,
      value: { fieldViolations: violations.map((v) => ({ field: v.field, description: v.description })) },
    },
  ]);
}

/**
 * What a caller can know about a call that failed because Redis could not be
 * reached: `UNKNOWN` when a command may have reached Redis (it may run after
 * the call failed), `NOT_APPLIED` when the call was refused before touching it.
 */
export type BackendOutcome = "UNKNOWN" | "NOT_APPLIED";

/**
 * Redis cannot be reached (or a stream lost it): UNAVAILABLE, with the
 * outcome in `ErrorInfo.metadata.outcome`. Every mutating RPC converges when
 * retried with the same request, so either way the answer is to retry.
 */
export function backendUnavailable(outcome: BackendOutcome = "UNKNOWN"): ConnectError {
  const message =
    outcome === "NOT_APPLIED"
      ? "the backing store is unavailable; the call was not attempted: retry later"
      : "the backing store is unavailable; the call may have taken effect: retry it with the same request";
  return reasonError(Code.Unavailable, Reason.BACKEND_UNAVAILABLE, message, { outcome });
}
