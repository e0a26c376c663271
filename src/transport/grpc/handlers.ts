import type {
  DescMessage,
  DescMethodBiDiStreaming,
  DescMethodClientStreaming,
  DescMethodServerStreaming,
  DescMethodUnary,
  Message,
  MessageInitShape,
} from "@bufbuild/protobuf";
import { ConnectError, type HandlerContext, type MethodImpl } from "@connectrpc/connect";
import type {
  handleBidiStreamingCall,
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
  sendUnaryData,
} from "@grpc/grpc-js";
import type { Readable } from "node:stream";
import { observeRefusal } from "../../observe/rpc-observer.js";
import { shutdownError } from "../call-registry.js";
import { UndecodableRequest } from "./bad-input.js";
import { GrpcCall, type MethodRuntime, type ServerSurfaceCall } from "./call-context.js";
import { appendHeadersToMetadata } from "./metadata.js";
import { toConnectError, toGrpcStatus } from "./status.js";
import { StreamWriter, type CallEnding, type WritableCall } from "./stream-writer.js";
import { pushStream } from "../../util/push-stream.js";

/** What implementations return; the method's serializer turns it into the output message. */
export type Output = MessageInitShape<DescMessage>;

export type AnyUnaryImpl = MethodImpl<DescMethodUnary<DescMessage, DescMessage>>;
export type AnyClientStreamingImpl = MethodImpl<DescMethodClientStreaming<DescMessage, DescMessage>>;
export type AnyServerStreamingImpl = MethodImpl<DescMethodServerStreaming<DescMessage, DescMessage>>;
export type AnyBiDiStreamingImpl = MethodImpl<DescMethodBiDiStreaming<DescMessage, DescMessage>>;

export function unaryHandler(rt: MethodRuntime, impl: AnyUnaryImpl): handleUnaryCall<Message, Output> {
  return (call, callback) => {
    const request: unknown = call.request;
    if (request instanceof UndecodableRequest) {
      callback(refusal(rt, request.error));
      return;
    }
    const gc = new GrpcCall(rt, call);
    respondOnce(rt, call, gc, invoke(impl, call.request, gc.ctx), callback);
  };
}

export function clientStreamingHandler(
  rt: MethodRuntime,
  impl: AnyClientStreamingImpl,
): handleClientStreamingCall<Message, Output> {
  return (call, callback) => {
    if (rt.registry.isDraining) {
      callback(refusal(rt, shutdownError()));
      return;
    }
    const gc = new GrpcCall(rt, call);
    respondOnce(rt, call, gc, invoke(impl, readRequests(call, gc), gc.ctx), callback);
  };
}

export function serverStreamingHandler(
  rt: MethodRuntime,
  impl: AnyServerStreamingImpl,
): handleServerStreamingCall<Message, Output> {
  const ending = streamEnding(rt);
  return (call) => {
    if (rt.registry.isDraining) {
      call.emit("error", refusal(rt, shutdownError()));
      return;
    }
    const request: unknown = call.request;
    if (request instanceof UndecodableRequest) {
      call.emit("error", refusal(rt, request.error));
      return;
    }
    const gc = new GrpcCall(rt, call);
    respondStream(ending, call, gc, () => impl(call.request, gc.ctx));
  };
}

export function bidiStreamingHandler(
  rt: MethodRuntime,
  impl: AnyBiDiStreamingImpl,
): handleBidiStreamingCall<Message, Output> {
  const ending = streamEnding(rt);
  return (call) => {
    if (rt.registry.isDraining) {
      call.emit("error", refusal(rt, shutdownError()));
      return;
    }
    const gc = new GrpcCall(rt, call);
    respondStream(ending, call, gc, () => impl(readRequests(call, gc), gc.ctx));
  };
}

/** The status refusing a call before its handler runs, observed as such. */
function refusal(rt: MethodRuntime, error: ConnectError) {
  observeRefusal(rt.observer, error);
  return toGrpcStatus(error);
}

/** Calls an implementation that answers with one message; a synchronous throw becomes a rejection. */
async function invoke<I>(
  impl: (input: I, ctx: HandlerContext) => Promise<Output> | Output,
  input: I,
  ctx: HandlerContext,
): Promise<Output> {
  return impl(input, ctx);
}

function respondOnce(
  rt: MethodRuntime,
  call: ServerSurfaceCall,
  gc: GrpcCall,
  result: Promise<Output>,
  callback: sendUnaryData<Output>,
): void {
  result.then(
    (output) => {
      sendHeaders(call, gc);
      callback(null, output, trailers(gc));
      gc.close();
    },
    (err: unknown) => {
      const status = failureStatus(rt, call, gc, err);
      if (status !== undefined) callback(status);
      gc.close();
    },
  );
}

/**
 * Writes the implementation's messages as it pushes them (see `pushStream`
 * and `StreamWriter`: backpressure, aborts), then ends the call with its
 * trailers, or with the status of the error it failed with.
 */
function respondStream(ending: CallEnding, call: WritableCall, gc: GrpcCall, start: () => AsyncIterable<Output>): void {
  const writer = new StreamWriter(call, gc, ending);
  let output: AsyncIterable<Output>;
  try {
    output = start();
  } catch (err) {
    writer.fail(err);
    return;
  }
  writer.attach(pushStream(output, writer));
}

/** How the streams of one method end (see `CallEnding`), made once per method. */
function streamEnding(rt: MethodRuntime): CallEnding {
  return {
    headers: sendHeaders,
    ended(call, gc) {
      call.end(trailers(gc));
      gc.close();
    },
    failed(call, gc, err) {
      const status = failureStatus(rt, call, gc, err);
      if (status !== undefined) call.emit("error", status);
      gc.close();
    },
  };
}

/**
 * Requests of a client or bidi stream as the implementation's AsyncIterable.
 * Ending the loop early leaves the call open (the response side may still be
 * writing); a call torn down by the client surfaces as the abort reason
 * rather than Node's "premature close".
 */
async function* readRequests(stream: Readable, gc: GrpcCall): AsyncGenerator<Message> {
  try {
    for await (const message of stream.iterator({ destroyOnReturn: false })) {
      if (message instanceof UndecodableRequest) throw message.error;
      yield message as Message;
    }
  } catch (err) {
    throw gc.isAborted ? gc.abortReason : err;
  }
}

/** Sends the response headers as initial metadata, if the implementation set any. */
function sendHeaders(call: ServerSurfaceCall, gc: GrpcCall): void {
  const headers = gc.ctx.takeHeaders();
  const metadata = headers && appendHeadersToMetadata(headers);
  if (metadata !== undefined) call.sendMetadata(metadata);
}

function trailers(gc: GrpcCall) {
  const trailer = gc.ctx.trailersIfSet();
  return trailer && appendHeadersToMetadata(trailer);
}

/**
 * The status to end a failed call with, or undefined when the client is gone
 * (nothing can be sent). Errors that are not `ConnectError`s are bugs and are
 * logged here; expected errors are logged by the call policy.
 */
function failureStatus(rt: MethodRuntime, call: ServerSurfaceCall, gc: GrpcCall, err: unknown) {
  if (call.cancelled) return undefined;
  if (!(err instanceof ConnectError)) {
    rt.logger?.error({ err, rpc: rt.path }, "rpc implementation threw a non-ConnectError");
  }
  sendHeaders(call, gc);
  return toGrpcStatus(toConnectError(err), gc.ctx.trailersIfSet());
}
