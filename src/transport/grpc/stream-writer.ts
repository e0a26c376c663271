import type { DescMessage, Message, MessageInitShape } from "@bufbuild/protobuf";
import type { ServerDuplexStream, ServerWritableStream } from "@grpc/grpc-js";
import type { PushHandle, PushSink } from "../../util/push-stream.js";
import type { GrpcCall } from "./call-context.js";

type Output = MessageInitShape<DescMessage>;

export type WritableCall = ServerWritableStream<Message, Output> | ServerDuplexStream<Message, Output>;

/**
 * How a writer ends its call: with the trailers, or with the status of an
 * error (the adapter's own rules for both). One per method, shared by its calls.
 */
export interface CallEnding {
  /** Before the first message (and before the end, when there was none): the response headers. */
  headers(call: WritableCall, gc: GrpcCall): void;
  ended(call: WritableCall, gc: GrpcCall): void;
  failed(call: WritableCall, gc: GrpcCall, err: unknown): void;
}

/**
 * Writes a pushed server stream into its grpc-js call: each message goes to
 * `call.write` as the stream pushes it, in the same turn. When grpc-js
 * buffers past its high-water mark, the writer tells the stream it is full
 * and resumes it at "drain"; a call aborted meanwhile (client gone,
 * deadline, shutdown) ends the stream (`cancel`, its cleanup runs) and the
 * call with the abort's reason, as does a message pushed once the call has
 * aborted. One writer per call, made before the stream starts.
 */
export class StreamWriter implements PushSink<Output> {
  readonly #call: WritableCall;
  readonly #gc: GrpcCall;
  readonly #ending: CallEnding;
  #handle: PushHandle | undefined;
  #first = true;
  #full = false;
  #over = false;
  #onDrain: (() => void) | undefined;

  constructor(call: WritableCall, gc: GrpcCall, ending: CallEnding) {
    this.#call = call;
    this.#gc = gc;
    this.#ending = ending;
    gc.abortListener = this;
  }

  /** The stream's handle, once it is pushing (it may have ended already). */
  attach(handle: PushHandle): void {
    this.#handle = handle;
    if (this.#over) {
      // Over before its handle was known (its start failed, or the call had aborted by its
      // first push): a stream that ended ignores the cancel, one the abort left running ends.
      handle.cancel();
    }
  }

  push(message: Output): boolean {
    if (this.#over) {
      return false;
    }
    if (this.#gc.isAborted) {
      this.#abandon();
      return false;
    }
    if (this.#first) {
      this.#first = false;
      this.#ending.headers(this.#call, this.#gc);
    }
    if (this.#call.write(message)) {
      return true;
    }
    this.#full = true;
    // Made when first needed: most streams never fill.
    this.#onDrain ??= () => this.#drained();
    this.#call.once("drain", this.#onDrain);
    return false;
  }

  end(): void {
    if (this.#over) {
      return;
    }
    this.#over = true;
    if (this.#first) {
      this.#ending.headers(this.#call, this.#gc);
    }
    this.#ending.ended(this.#call, this.#gc);
  }

  fail(err: unknown): void {
    if (this.#over) {
      return;
    }
    this.#over = true;
    this.#ending.failed(this.#call, this.#gc, err);
  }

  /** From the call: it aborted. A stream waiting for room would never hear of it from grpc-js. */
  callAborted(): void {
    if (this.#full && !this.#over) {
      if (this.#onDrain !== undefined) this.#call.off("drain", this.#onDrain);
      this.#abandon();
    }
  }

  #drained(): void {
    this.#full = false;
    if (!this.#over) {
      this.#handle?.resume();
    }
  }

  /** Ends the stream because the call aborted, and the call with the abort's reason. */
  #abandon(): void {
    this.#over = true;
    this.#handle?.cancel();
    this.#ending.failed(this.#call, this.#gc, this.#gc.abortReason);
  }
}
