import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema, anyPack, type Any } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { Metadata, type status as GrpcStatusCode, type StatusObject } from "@grpc/grpc-js";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";
import { appendHeadersToMetadata } from "./metadata.js";

/** The final status of a failed call, in the shape grpc-js sends. */
export type GrpcErrorStatus = StatusObject;

/**
 * Anything thrown by an implementation as a `ConnectError`. Errors that are
 * not already one are bugs: the client sees INTERNAL with a fixed message (the
 * original text may hold internals); the original travels as `cause`.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

/**
 * Maps a `ConnectError` onto a gRPC status. Connect's `Code` values are the
 * gRPC status codes, so the number passes through. Trailing metadata holds
 * the call's response trailers, the error's own metadata, and, when the error
 * has details, `grpc-status-details-bin`: a binary `google.rpc.Status` whose
 * `details` are `Any`s, the form both connect clients (`findDetails`) and
 * grpc-js callers decode.
 */
export function toGrpcStatus(error: ConnectError, trailer?: Headers): GrpcErrorStatus {
  const metadata = new Metadata();
  if (trailer !== undefined) appendHeadersToMetadata(trailer, metadata);
  appendHeadersToMetadata(error.metadata, metadata);
  if (error.details.length > 0) {
    const status = create(StatusSchema, {
      code: error.code,
      message: error.rawMessage,
      details: error.details.map(detailToAny),
    });
    const bytes = toBinary(StatusSchema, status);
    metadata.set("grpc-status-details-bin", Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  // Connect's Code enum has the gRPC numbering, so the value maps one to one.
  return { code: error.code as number as GrpcStatusCode, details: error.rawMessage, metadata };
}

function detailToAny(detail: ConnectError["details"][number]): Any {
  if ("desc" in detail) {
    return anyPack(detail.desc, create(detail.desc, detail.value));
  }
  return create(AnySchema, { typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value });
}
