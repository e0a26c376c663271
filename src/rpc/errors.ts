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

/** Redis cannot be reached (or a stream lost it): UNAVAILABLE, safe to retry elsewhere or later. */
export function backendUnavailable(): ConnectError {
  return reasonError(Code.Unavailable, Reason.BACKEND_UNAVAILABLE, "the backing store is unavailable; retry later");
}
