import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Reason } from "../../gen/boxoffice/v1/errors_pb.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

/** The `ErrorInfo.domain` of every error this service returns. */
export const ERROR_DOMAIN = "boxoffice.v1";

/**
 * Size bounds of every error this service returns. A gRPC error travels in
 * trailers (`grpc-message` and the base64 `grpc-status-details-bin`), and
 * clients cap metadata (grpcio and grpc-go at 8 KiB by default): one
 * oversized error would fail the call with RESOURCE_EXHAUSTED and, in
 * grpcio, the channel's other calls too. With these bounds an error stays
 * under ~5 KB on the wire whatever the request held.
 */
export const ERROR_BOUNDS = {
  messageChars: 256,
  violations: 5,
  fieldChars: 100,
  descriptionChars: 160,
  metadataEntries: 8,
  metadataKeyChars: 40,
  metadataValueChars: 160,
  /** Details other than ErrorInfo and BadRequest are dropped above this encoded size. */
  otherDetailBytes: 512,
  details: 4,
} as const;

/** `Reason.QUEUE_CLOSED` → "QUEUE_CLOSED": the stable name callers branch on. */
export function reasonName(reason: Reason): string {
  return Reason[reason];
}

/**
 * An expected failure: a canonical code plus an `ErrorInfo` whose reason is a
 * `boxoffice.v1.Reason` name. Metadata carries the ids that make the error
 * actionable (never secrets). Long comma-separated lists are cut at an item
 * and say how many items were left out (`<key>_omitted`).
 */
export function reasonError(code: Code, reason: Reason, message: string, metadata: Record<string, string> = {}): ConnectError {
  return new ConnectError(clip(message, ERROR_BOUNDS.messageChars), code, undefined, [
    { desc: ErrorInfoSchema, value: errorInfo(reason, metadata) },
  ]);
}

export interface FieldViolation {
  /** Dotted path in the request, e.g. `event_id` or `config.admit_burst`. */
  readonly field: string;
  readonly description: string;
}

/**
 * INVALID_ARGUMENT with a `BadRequest` naming the offending fields, plus
 * `ErrorInfo` (INVALID_REQUEST). Past `ERROR_BOUNDS.violations` only the
 * count travels: ErrorInfo metadata `violations` (the total) and
 * `violations_omitted`.
 */
export function invalidRequest(violations: readonly FieldViolation[]): ConnectError {
  const shown = violations.slice(0, ERROR_BOUNDS.violations);
  const omitted = violations.length - shown.length;
  const summary = shown.map((v) => `${v.field}: ${v.description}`).join("; ") + (omitted > 0 ? `; and ${omitted} more` : "");
  const metadata: Record<string, string> = { violations: String(violations.length) };
  if (omitted > 0) metadata["violations_omitted"] = String(omitted);
  return new ConnectError(clip(`invalid request: ${summary}`, ERROR_BOUNDS.messageChars), Code.InvalidArgument, undefined, [
    { desc: ErrorInfoSchema, value: errorInfo(Reason.INVALID_REQUEST, metadata) },
    { desc: BadRequestSchema, value: { fieldViolations: shown.map(boundViolation) } },
  ]);
}

/**
 * A request that could not be read at all (an undecodable body, a malformed
 * protocol header): INVALID_ARGUMENT with ErrorInfo INVALID_REQUEST, whose
 * metadata may name the culprit (e.g. `header: grpc-timeout`). Problems with
 * a place in the message use `invalidRequest` and its BadRequest instead.
 */
export function malformedRequest(message: string, metadata: Record<string, string> = {}): ConnectError {
  return reasonError(Code.InvalidArgument, Reason.INVALID_REQUEST, message, metadata);
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

/** The server is draining: UNAVAILABLE with SHUTTING_DOWN, so clients reconnect to another instance. */
export function shuttingDown(): ConnectError {
  return reasonError(Code.Unavailable, Reason.SHUTTING_DOWN, "server is shutting down; reconnect to another instance");
}

/**
 * This process serves as many long-lived streams as it may (`limit`):
 * RESOURCE_EXHAUSTED with TOO_MANY_STREAMS and a `RetryInfo` saying when to
 * try again (here or, better, on another instance).
 */
export function tooManyStreams(limit: number, retryAfterMs: number): ConnectError {
  return new ConnectError(
    `this server already serves its limit of ${limit} open streams; retry in ${retryAfterMs} ms or on another instance`,
    Code.ResourceExhausted,
    undefined,
    [
      { desc: ErrorInfoSchema, value: errorInfo(Reason.TOO_MANY_STREAMS, { limit: String(limit) }) },
      {
        desc: RetryInfoSchema,
        value: { retryDelay: { seconds: BigInt(Math.floor(retryAfterMs / 1000)), nanos: (retryAfterMs % 1000) * 1_000_000 } },
      },
    ],
  );
}

/**
 * The same error within `ERROR_BOUNDS`, whoever built it: the last step
 * before an error leaves the call policy. Errors already within bounds (all
 * those made above) are returned as they are.
 */
export function boundError(err: ConnectError): ConnectError {
  if (err.rawMessage.length <= ERROR_BOUNDS.messageChars && err.details.length <= ERROR_BOUNDS.details && err.details.every(isBounded)) {
    return err;
  }
  const details = err.details.flatMap(boundDetail).slice(0, ERROR_BOUNDS.details);
  return new ConnectError(clip(err.rawMessage, ERROR_BOUNDS.messageChars), err.code, err.metadata, details, err.cause);
}

type Detail = ConnectError["details"][number];
type OutgoingDetail = Extract<Detail, { desc: DescMessage }>;
type ErrorInfoInit = MessageInitShape<typeof ErrorInfoSchema>;
type BadRequestInit = MessageInitShape<typeof BadRequestSchema>;

function errorInfo(reason: Reason, metadata: Record<string, string>): ErrorInfoInit {
  return { reason: reasonName(reason), domain: ERROR_DOMAIN, metadata: boundMetadata(metadata) };
}

function boundViolation(v: FieldViolation): FieldViolation {
  return { field: clip(v.field, ERROR_BOUNDS.fieldChars), description: clip(v.description, ERROR_BOUNDS.descriptionChars) };
}

function boundMetadata(metadata: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = Object.entries(metadata);
  let room: number = ERROR_BOUNDS.metadataEntries;
  for (const [rawKey, value] of entries) {
    if (room === 0) break;
    const key = clip(rawKey, ERROR_BOUNDS.metadataKeyChars);
    if (value.length <= ERROR_BOUNDS.metadataValueChars) {
      out[key] = value;
      room--;
      continue;
    }
    const items = value.split(",");
    if (items.length === 1) {
      out[key] = clip(value, ERROR_BOUNDS.metadataValueChars);
      room--;
      continue;
    }
    let kept = "";
    let count = 0;
    for (const item of items) {
      const next = count === 0 ? item : `${kept},${item}`;
      if (next.length > ERROR_BOUNDS.metadataValueChars) break;
      kept = next;
      count++;
    }
    out[key] = kept;
    room--;
    if (room > 0) {
      out[clip(`${rawKey}_omitted`, ERROR_BOUNDS.metadataKeyChars)] = String(items.length - count);
      room--;
    }
  }
  return out;
}

function isBounded(detail: Detail): boolean {
  if (!("desc" in detail)) return detail.value.byteLength <= ERROR_BOUNDS.otherDetailBytes;
  if (detail.desc.typeName === ErrorInfoSchema.typeName) {
    const metadata = (detail.value as ErrorInfoInit).metadata ?? {};
    const entries = Object.entries(metadata);
    return (
      entries.length <= ERROR_BOUNDS.metadataEntries &&
      entries.every(([k, v]) => k.length <= ERROR_BOUNDS.metadataKeyChars && v.length <= ERROR_BOUNDS.metadataValueChars)
    );
  }
  if (detail.desc.typeName === BadRequestSchema.typeName) {
    const violations = (detail.value as BadRequestInit).fieldViolations ?? [];
    return (
      violations.length <= ERROR_BOUNDS.violations &&
      violations.every(
        (v) => (v.field ?? "").length <= ERROR_BOUNDS.fieldChars && (v.description ?? "").length <= ERROR_BOUNDS.descriptionChars,
      )
    );
  }
  return encodedSize(detail.desc, detail.value) <= ERROR_BOUNDS.otherDetailBytes;
}

/** Within bounds, or cut down; details received from elsewhere (no schema) are dropped. */
function boundDetail(detail: Detail): OutgoingDetail[] {
  if (!("desc" in detail)) return [];
  if (isBounded(detail)) return [detail];
  if (detail.desc.typeName === ErrorInfoSchema.typeName) {
    const info = detail.value as ErrorInfoInit;
    return [{ desc: ErrorInfoSchema, value: { ...info, metadata: boundMetadata(info.metadata ?? {}) } }];
  }
  if (detail.desc.typeName === BadRequestSchema.typeName) {
    const violations = (detail.value as BadRequestInit).fieldViolations ?? [];
    const shown = violations
      .slice(0, ERROR_BOUNDS.violations)
      .map((v) => boundViolation({ field: v.field ?? "", description: v.description ?? "" }));
    return [{ desc: BadRequestSchema, value: { fieldViolations: shown } }];
  }
  return [];
}

function encodedSize(desc: DescMessage, value: unknown): number {
  return toBinary(desc, create(desc, value as MessageInitShape<DescMessage>)).byteLength;
}

/** Cuts `text` to `max` characters, marking the cut. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
