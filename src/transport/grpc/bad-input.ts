import { fromBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { status as GrpcStatus, type ServerInterceptingCallInterface, type ServerInterceptor } from "@grpc/grpc-js";
import { malformedRequest } from "../../rpc/errors.js";
import { toGrpcStatus } from "./status.js";

/**
 * What the request deserializer hands grpc-js for bytes that are not a valid
 * message. grpc-js answers a throwing deserializer with INTERNAL; a value lets
 * the handler answer INVALID_ARGUMENT instead, before anything runs.
 */
export class UndecodableRequest {
  constructor(readonly error: ConnectError) {}
}

/** Decodes a request message, or describes why the bytes are not one. */
export function decodeRequest(schema: DescMessage, bytes: Uint8Array): Message | UndecodableRequest {
  try {
    return fromBinary(schema, bytes);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return new UndecodableRequest(malformedRequest(`request body is not a valid ${schema.typeName}: ${why}`));
  }
}

/**
 * Statuses grpc-js itself sends for requests it cannot read, before any
 * handler runs, with the bad-input error to send instead. grpc-js reports
 * them as INTERNAL (or, for a body that does not hold exactly one message,
 * UNIMPLEMENTED) with these fixed texts (checked by the transport tests and
 * the wire fuzz test, so a grpc-js release that changes them fails loudly
 * rather than silently).
 */
const unreadable: ReadonlyArray<{ code: GrpcStatus; prefix: string; error: () => ConnectError }> = [
  {
    code: GrpcStatus.INTERNAL,
    prefix: "Invalid grpc-timeout value",
    error: () => malformedRequest("grpc-timeout is not a valid timeout (1-8 digits and a unit of H, M, S, m, u or n)", { header: "grpc-timeout" }),
  },
  {
    code: GrpcStatus.INTERNAL,
    prefix: "Failed to decompress message",
    error: () => malformedRequest("request message is flagged compressed but does not decompress with its grpc-encoding", { header: "grpc-encoding" }),
  },
  {
    code: GrpcStatus.UNIMPLEMENTED,
    prefix: "Received no request message",
    error: () => malformedRequest("request body holds no complete message (this method takes exactly one)"),
  },
  {
    code: GrpcStatus.UNIMPLEMENTED,
    prefix: "Received a second request message",
    error: () => malformedRequest("request body holds more than one message (this method takes exactly one)"),
  },
];

/**
 * A grpc-js server interceptor that turns grpc-js's own INTERNAL and
 * UNIMPLEMENTED answers to malformed requests (an invalid `grpc-timeout`, a
 * message that does not decompress, a unary or server-streaming body with
 * no message or two) into INVALID_ARGUMENT with ErrorInfo INVALID_REQUEST:
 * bad input, not a server bug nor a missing method.
 *
 * grpc-js sends those statuses from the innermost call object, past every
 * interceptor's responder, so the interceptor wraps that object's
 * `sendStatus` (it is the `call` the first interceptor receives). Every other
 * status passes through unchanged. One closure per call, no wrapper object.
 * `refused`, if given, hears of each call answered so (no handler sees them).
 */
export function badInputInterceptor(refused?: (path: string, error: ConnectError) => void): ServerInterceptor {
  return (method, call) => {
  const base = call as ServerInterceptingCallInterface & { sendStatus: ServerInterceptingCallInterface["sendStatus"] };
  // The original method, called on `base` (a bound copy would be one more object per call, kept for its life).
  const original = base.sendStatus;
  base.sendStatus = (status) => {
    if (status.code === GrpcStatus.INTERNAL || status.code === GrpcStatus.UNIMPLEMENTED) {
      const match = unreadable.find((u) => u.code === status.code && status.details.startsWith(u.prefix));
      if (match) {
        const error = match.error();
        refused?.(method.path, error);
        original.call(base, toGrpcStatus(error));
        return;
      }
    }
    original.call(base, status);
  };
  // grpc-js types an interceptor's result as its wrapper class; the call itself serves the same interface.
  return base as unknown as ReturnType<ServerInterceptor>;
  };
}
