import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { wrapMethods, type ServiceRegistration } from "./registration.js";

/**
 * A streamed response message the implementation encodes itself (its wire
 * bytes, without gRPC framing): a stream that sends many similar messages,
 * such as WatchPosition, encodes what never changes once and only the
 * changing fields per message. The grpc-js port has it write its bytes
 * straight into a buffer it reuses (grpc-js copies them into the frame at
 * once), so a message costs no buffer of its own; the Connect port decodes
 * them back (`decodeEncodedOutputs`), which only the compatibility port pays
 * for.
 */
export abstract class EncodedOutput {
  /** The message's size on the wire. */
  abstract readonly byteLength: number;

  /** Writes the message's bytes into `target` from its start; `target` has room for `byteLength`. */
  abstract writeTo(target: Uint8Array): void;

  /** The message's bytes in a buffer of their own. */
  toBytes(): Uint8Array {
    const bytes = new Uint8Array(this.byteLength);
    this.writeTo(bytes);
    return bytes;
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
        yield value instanceof EncodedOutput ? fromBinary(output, value.toBytes()) : value;
      }
    };
  });
}
