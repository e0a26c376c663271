import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { wrapMethods, type ServiceRegistration } from "./registration.js";

/**
 * A streamed response message the implementation has already encoded (its
 * wire bytes, without gRPC framing): a stream that sends many similar
 * messages, such as WatchPosition, encodes what never changes once and only
 * the changing fields per message. The grpc-js port writes the bytes as they
 * are; the Connect port decodes them back (`decodeEncodedOutputs`), which
 * only the compatibility port pays for.
 */
export class EncodedOutput {
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * Typed as the method's output so that an implementation may yield it:
   * every transport mounting the registration must recognize it (the grpc-js
   * serializer does, and the Connect port is wrapped with
   * `decodeEncodedOutputs`).
   */
  as<T>(): T {
    return this as unknown as T;
  }
}

/** The registration with each server stream's `EncodedOutput`s decoded to messages, for transports that encode themselves. */
export function decodeEncodedOutputs(reg: ServiceRegistration): ServiceRegistration {
  return wrapMethods(reg, (method, fn) => {
    if (method.methodKind !== "server_streaming") {
      return fn;
    }
    const output: DescMessage = method.output;
    return async function* (request, ctx) {
      for await (const value of fn(request, ctx) as AsyncIterable<unknown>) {
        yield value instanceof EncodedOutput ? fromBinary(output, value.bytes) : value;
      }
    };
  });
}
