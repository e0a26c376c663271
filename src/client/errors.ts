import { createRegistry, fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { Reason } from "../../gen/boxoffice/v1/errors_pb.js";
import { BadRequestSchema, ErrorInfoSchema, type BadRequest, type ErrorInfo } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";

/** The `ErrorInfo.domain` of every error Boxoffice returns; infos of other domains are not ours to read. */
export const ERROR_DOMAIN = "boxoffice.v1";

/** What a failed call says about itself, however it reached the caller. */
export interface ErrorDetails {
  /** The canonical status code (connect's `Code` has the gRPC numbering). */
  readonly code: Code;
  /** `Reason.UNSPECIFIED` when the error carries no Boxoffice `ErrorInfo`, or a reason newer than this package. */
  readonly reason: Reason;
  /** The reason's name as sent, e.g. "SOLD_OUT"; "" without an `ErrorInfo`. */
  readonly reasonName: string;
  /** The ids that make the error actionable, e.g. `seat_ids` ("A1-1,A1-2"). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Present for INVALID_ARGUMENT: every offending field. */
  readonly badRequest: BadRequest | undefined;
}

const registry = createRegistry(ErrorInfoSchema, BadRequestSchema);
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The `boxoffice.v1.Reason` of a failed call, to branch on instead of
 * message text: `if (reasonOf(err) === Reason.SOLD_OUT) …`. Takes what a
 * connect-es client throws (`ConnectError`) and what a `@grpc/grpc-js`
 * client returns (a `ServiceError` with `grpc-status-details-bin`).
 * Anything else, or an error without a Boxoffice `ErrorInfo`, is
 * `Reason.UNSPECIFIED`.
 */
export function reasonOf(err: unknown): Reason {
  return errorDetailsOf(err).reason;
}

/** Code, reason, `ErrorInfo` metadata and `BadRequest` of a failed call; see `reasonOf` for what it accepts. */
export function errorDetailsOf(err: unknown): ErrorDetails {
  const { code, infos, badRequests } = unpack(err);
  const info = infos.find((i) => i.domain === ERROR_DOMAIN);
  const reasonName = info?.reason ?? "";
  return {
    code,
    reason: reasonByName(reasonName),
    reasonName,
    metadata: info?.metadata ?? NO_METADATA,
    badRequest: badRequests[0],
  };
}

/**
 * Decodes the `grpc-status-details-bin` trailer (a binary `google.rpc.Status`)
 * into its `ErrorInfo` and `BadRequest` details. Details of other types are
 * skipped; undecodable bytes give empty lists rather than an exception, since
 * this runs inside error handling.
 */
export function decodeStatusDetails(bytes: Uint8Array): { readonly infos: ErrorInfo[]; readonly badRequests: BadRequest[] } {
  const infos: ErrorInfo[] = [];
  const badRequests: BadRequest[] = [];
  try {
    for (const any of fromBinary(StatusSchema, bytes).details) {
      const detail = anyUnpack(any, registry);
      if (detail?.$typeName === ErrorInfoSchema.typeName) infos.push(detail as ErrorInfo);
      if (detail?.$typeName === BadRequestSchema.typeName) badRequests.push(detail as BadRequest);
    }
  } catch {
    // Not a Status: report no details.
  }
  return { infos, badRequests };
}

function unpack(err: unknown): { code: Code; infos: ErrorInfo[]; badRequests: BadRequest[] } {
  if (err instanceof ConnectError) {
    return { code: err.code, infos: err.findDetails(ErrorInfoSchema), badRequests: err.findDetails(BadRequestSchema) };
  }
  const grpc = grpcStatusOf(err);
  if (grpc !== undefined) {
    return { code: grpc.code, ...(grpc.details === undefined ? { infos: [], badRequests: [] } : decodeStatusDetails(grpc.details)) };
  }
  return { code: ConnectError.from(err).code, infos: [], badRequests: [] };
}

/** The shape of a `@grpc/grpc-js` `ServiceError`, read without importing grpc-js. */
function grpcStatusOf(err: unknown): { code: Code; details: Uint8Array | undefined } | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const { code, metadata } = err as { code?: unknown; metadata?: { get?: unknown } };
  if (typeof code !== "number" || !(code in Code) || typeof metadata?.get !== "function") return undefined;
  const values: unknown = (metadata.get as (key: string) => unknown).call(metadata, "grpc-status-details-bin");
  const first = Array.isArray(values) ? values[0] : undefined;
  return { code: code as Code, details: first instanceof Uint8Array ? first : undefined };
}

function reasonByName(name: string): Reason {
  const value: unknown = name === "" || name === "UNSPECIFIED" ? undefined : (Reason as unknown as Record<string, unknown>)[name];
  return typeof value === "number" ? (value as Reason) : Reason.UNSPECIFIED;
}
