import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { Deadline, Metadata } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { RpcMethodObserver } from "../../observe/rpc-observer.js";
import type { Abortable, CallRegistry } from "../call-registry.js";
import { MetadataHeaders } from "./metadata-headers.js";

/** Everything a method's handler needs, resolved once when the server is built. */
export interface MethodRuntime {
  readonly service: DescService;
  readonly method: DescMethod;
  /** `/package.Service/Method`, the HTTP/2 `:path` of the call. */
  readonly path: string;
  /** Anything but unary: aborted as soon as a shutdown starts. */
  readonly streaming: boolean;
  readonly registry: CallRegistry;
  readonly logger: Logger | undefined;
  /** Sees the calls refused before the handler (the handler's own calls are observed by the call policy). */
  readonly observer?: RpcMethodObserver | undefined;
}

/** The part of a grpc-js server call, of any kind, that the adapter uses. */
export interface ServerSurfaceCall {
  readonly cancelled: boolean;
  readonly metadata: Metadata;
  getDeadline(): Deadline;
  getHost(): string;
  sendMetadata(metadata: Metadata): void;
  on(event: "cancelled", listener: () => void): unknown;
}

/**
 * grpc-js fires "cancelled" when a call's HTTP/2 stream closes for any reason,
 * including its own deadline timer, which may run slightly ahead of the wall
 * clock. A cancel this close to the deadline is reported as the deadline.
 */
const deadlineSlackMs = 5;

/** The reason a signal carries once its call completed normally: an AbortError, as with connect. */
const completed = new DOMException("the call has completed", "AbortError");

const noTimeout = (): undefined => undefined;

/**
 * The state of one grpc-js call as seen by its implementation: the handler
 * context, and the abort bookkeeping behind its signal.
 *
 * The signal aborts with CANCELED when the client goes away, DEADLINE_EXCEEDED
 * at the deadline, UNAVAILABLE when the server shuts down (the registry calls
 * `abort`), and with an AbortError once the call is complete.
 */
export class GrpcCall implements Abortable {
  readonly ctx: GrpcHandlerContext;
  /** Told after the signal once the call aborts (the response writer, which has no use for an `AbortSignal` listener). */
  abortListener: { callAborted(): void } | undefined;
  private controller: AbortController | undefined;
  private aborted = false;
  private reason: unknown;

  constructor(
    private readonly rt: MethodRuntime,
    call: ServerSurfaceCall,
  ) {
    const deadline = call.getDeadline();
    const deadlineMs = typeof deadline === "number" ? deadline : deadline.getTime();
    this.ctx = new GrpcHandlerContext(
      this,
      rt,
      call,
      Number.isFinite(deadlineMs) ? () => deadlineMs - Date.now() : noTimeout,
    );
    // `on`, not `once`: `abort` runs once anyway, and `once` would wrap the listener in two more objects per call.
    call.on("cancelled", () => {
      if (this.aborted) return;
      this.abort(
        Date.now() + deadlineSlackMs >= deadlineMs
          ? new ConnectError("the operation timed out", Code.DeadlineExceeded)
          : new ConnectError("the client cancelled the call", Code.Canceled),
      );
    });
    rt.registry.enter(this, rt.streaming);
  }

  /** True once the call was cancelled, timed out, shut down or completed. */
  get isAborted(): boolean {
    return this.aborted;
  }

  /** Why the call was aborted (undefined while it runs). */
  get abortReason(): unknown {
    return this.reason;
  }

  /** Aborts the signal, unless already aborted. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.abortListener?.callAborted();
  }

  /** Ends the call's context: leaves the registry and aborts the signal (if it was ever handed out). */
  close(): void {
    this.rt.registry.leave(this, this.rt.streaming);
    this.abort(completed);
  }

  /** The signal, created on first use; already aborted if the call was. */
  signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
}

/**
 * connect's `HandlerContext` for a grpc-js call, built for the hot path.
 *
 * connect's own `createHandlerContext` costs ~40 µs per call on Node 20 (two
 * AbortSignals, two "abort" listeners, three `Headers`, an AbortError built
 * at completion), which is as much again as the rest of a grpc-js unary call.
 * Here each part is made on first use: the signal, the request headers
 * (read from metadata, copied only when iterated), the response headers and trailers, the context
 * values. The deadline needs no timer of its own: grpc-js enforces it and
 * reports it through "cancelled".
 *
 * The lazy members are getters on the prototype, so pass the context itself
 * along: a copy made with `{...ctx}` or `Object.assign({}, ctx)` would lack
 * `signal`, the headers and `values`. (Getters on the instance would survive
 * a spread but cost more than everything else here put together.)
 */
export class GrpcHandlerContext implements HandlerContext {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  private requestHeaders: Headers | undefined;
  private responseHeaders: Headers | undefined;
  private responseTrailers: Headers | undefined;
  private contextValues: ContextValues | undefined;

  constructor(
    private readonly state: GrpcCall,
    private readonly rt: MethodRuntime,
    private readonly call: ServerSurfaceCall,
    readonly timeoutMs: () => number | undefined,
  ) {
    this.service = rt.service;
    this.method = rt.method;
  }

  get url(): string {
    return `http://${this.call.getHost()}${this.rt.path}`;
  }

  get signal(): AbortSignal {
    return this.state.signal();
  }

  get requestHeader(): Headers {
    return (this.requestHeaders ??= new MetadataHeaders(this.call.metadata));
  }

  get responseHeader(): Headers {
    return (this.responseHeaders ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.responseTrailers ??= new Headers());
  }

  get values(): ContextValues {
    return (this.contextValues ??= createContextValues());
  }

  /**
   * Aborts the call's signal with `reason`, as a shutdown does (see
   * `AbortableContext`: the backend guard ends a stream this way when the
   * store is lost, without a second signal of its own).
   */
  abortCall(reason: unknown): void {
    this.state.abort(reason);
  }

  /**
   * The response headers, if the implementation touched them, as they are
   * sent: the context lets go of them and of its request headers (a view of
   * the metadata, made again if read later), which an open stream would
   * otherwise hold for its whole life. Headers set after this are not sent.
   */
  takeHeaders(): Headers | undefined {
    const headers = this.responseHeaders;
    this.responseHeaders = undefined;
    this.requestHeaders = undefined;
    return headers;
  }

  /** The response trailers, if the implementation touched them. */
  trailersIfSet(): Headers | undefined {
    return this.responseTrailers;
  }
}
