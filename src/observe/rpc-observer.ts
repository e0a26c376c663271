import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { Code, ConnectError, HandlerContext } from "@connectrpc/connect";

/** Which port a call came in on: grpc-js (`PORT`) or connect-node (`CONNECT_PORT`, any of its protocols). */
export type Transport = "grpc" | "connect";

/** One method as served on one port, as an observer is told about it once, when the server is built. */
export interface RpcMethod {
  /** `boxoffice.v1.QueueService` */
  readonly service: string;
  /** `Join` */
  readonly method: string;
  readonly kind: DescMethod["methodKind"];
  readonly transport: Transport;
}

/** How one call ended. */
export interface RpcResult {
  /** The gRPC status code: 0 is OK (connect's `Code` has no OK). */
  readonly code: Code | 0;
  /** The error the caller sees; undefined when OK. */
  readonly error: ConnectError | undefined;
  /** From the call's start (before credentials and validation) to its completion; for a stream, its whole life. */
  readonly durationMs: number;
  /** As echoed in `x-request-id`; empty for a call the transport refused. */
  readonly requestId: string;
  /** The request's `event_id`, when it has a well-formed one. */
  readonly eventId: string | undefined;
}

/**
 * Watches the calls of the served methods: metrics and tracing both hang
 * here, on the completion point the call log already has (see `CallLog`),
 * and on the transports for the calls they refuse before any handler runs.
 * Asked once per method and port when the servers are built, so per-call
 * work is what the observer itself does; with no observer, a call pays for
 * nothing more than an `undefined` check.
 */
export interface RpcObserver {
  /** Called once per method and port; undefined observes none of its calls. */
  forMethod(method: RpcMethod): RpcMethodObserver | undefined;
}

export interface RpcMethodObserver {
  /**
   * A call of the method starts, before its credentials and request are
   * checked. `ctx` is the call's context (its request headers carry any
   * trace parent); undefined for a call the transport refused before it had
   * one (an undecodable request, a stream opened while draining), which is
   * ended at once.
   */
  start(ctx: HandlerContext | undefined): RpcCallObserver;
}

export interface RpcCallObserver {
  /**
   * Runs `fn(a, b)` as part of the call: the implementation of a unary call,
   * each step of a stream. Tracing makes the call's span current there, so
   * the Redis calls made inside are its children. Absent: run as is.
   */
  readonly within?: (<A, B, R>(fn: (a: A, b: B) => R, a: A, b: B) => R) | undefined;
  /** One request message was read. */
  readonly received?: (() => void) | undefined;
  /** One response message was sent. */
  readonly sent?: (() => void) | undefined;
  /** The call completed; called exactly once. */
  end(result: RpcResult): void;
}

/** One observer made of several (metrics and tracing side by side); undefined when none is given. */
export function composeRpcObservers(...observers: ReadonlyArray<RpcObserver | undefined>): RpcObserver | undefined {
  const present = observers.filter((o): o is RpcObserver => o !== undefined);
  if (present.length <= 1) {
    return present[0];
  }
  return {
    forMethod(method) {
      const methods = present.map((o) => o.forMethod(method)).filter((m): m is RpcMethodObserver => m !== undefined);
      if (methods.length <= 1) {
        return methods[0];
      }
      const counts = (key: "received" | "sent") => (calls: readonly RpcCallObserver[]) => {
        const parts = calls.filter((c) => c[key] !== undefined);
        return parts.length === 0 ? undefined : () => parts.forEach((c) => c[key]!());
      };
      const received = counts("received");
      const sent = counts("sent");
      return {
        start(ctx) {
          const calls = methods.map((m) => m.start(ctx));
          const within = calls.reduceRight<RpcCallObserver["within"]>((inner, call) => {
            const outer = call.within;
            if (outer === undefined) return inner;
            if (inner === undefined) return outer;
            return (fn, a, b) => outer(() => inner(fn, a, b), undefined, undefined);
          }, undefined);
          return {
            within,
            received: received(calls),
            sent: sent(calls),
            end(result) {
              for (const call of calls) call.end(result);
            },
          };
        },
      };
    },
  };
}

/**
 * The method observers of one port, made on first use: for the transports,
 * which meet a method only when they refuse one of its calls.
 */
export function observersOf(observer: RpcObserver, transport: Transport): (service: DescService, method: DescMethod) => RpcMethodObserver | undefined {
  const made = new Map<DescMethod, RpcMethodObserver | undefined>();
  return (service, method) => {
    if (!made.has(method)) {
      made.set(method, observer.forMethod({ service: service.typeName, method: method.name, kind: method.methodKind, transport }));
    }
    return made.get(method);
  };
}

/** Records a call the transport refused before any handler ran. */
export function observeRefusal(observer: RpcMethodObserver | undefined, error: ConnectError): void {
  observer?.start(undefined).end({ code: error.code, error, durationMs: 0, requestId: "", eventId: undefined });
}
