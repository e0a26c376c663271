import type { EncodedOutput } from "../../rpc/encoded-output.js";

/** Larger messages get a buffer of their own. */
const SCRATCH_BYTES = 1024;

/**
 * Where a method's serializer writes `EncodedOutput`s: one buffer reused by
 * every message, seen through one view per message length (made once), so a
 * message allocates nothing here. grpc-js copies what the serializer returns
 * into the message's frame before it returns from `write`, or from a later
 * write's turn when the call buffers; either way before the next message is
 * serialized, so the next message may overwrite it.
 */
export class OutputScratch {
  readonly #buffer = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  readonly #views: Array<Buffer | undefined> = [];

  /** `output`'s bytes, valid until the next call. */
  write(output: EncodedOutput): Buffer {
    const length = output.byteLength;
    if (length > SCRATCH_BYTES) {
      const own = Buffer.allocUnsafe(length);
      output.writeTo(own);
      return own;
    }
    const view = (this.#views[length] ??= this.#buffer.subarray(0, length));
    output.writeTo(view);
    return view;
  }
}
