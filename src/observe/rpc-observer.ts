import type { Code, ConnectError, HandlerContext } from "@connectrpc/connect";

/** One method of a served service, as an observer is told about it once, when the server is built. */
export interface RpcMethod {
  /** `boxoffice.v1.QueueService` */
  readonly service: string;
  /** `Join` */
  readonly method: string;
  readonly kind: "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";
}

/** How one call ended. */
export interface RpcResult {
  /** The gRPC status code: 0 is OK (connect's `Code` has no OK). */
  readonly code: Code | 0;
  /** The error the caller sees; undefined when OK. */
  readonly error: ConnectError | undefined;
  /** From the call's start (before credentials and validation) to its completion; for a stream, its whole life. */
  readonly durationMs: number;
  /** As echoed in `x-request-id`. */
  readonly requestId: string;
  /** The request's `event_id`, when it has a well-formed one. */
  readonly eventId: string | undefined;
}

/**
 * Watches the calls of the served methods: tracing and metrics hang here,
 * on the completion point the call log already has (see `CallLog`). With no
 * observer, a call pays for nothing more than an `undefined` check.
 */
export interface RpcObserver {
  /** Called once per method when the server is built; undefined observes none of its calls. */
  forMethod(method: RpcMethod): RpcMethodObserver | undefined;
}

export interface RpcMethodObserver {
  /** A call of the method starts, before its credentials and request are checked. */
  start(ctx: HandlerContext): RpcCallObserver;
}

export interface RpcCallObserver {
  /**
   * Runs `fn(a, b)` as part of the call: the implementation of a unary call,
   * each step of a stream. Tracing makes the call's span current there, so
   * the Redis calls made inside are its children. Absent: run as is.
   */
  readonly within?: <A, B, R>(fn: (a: A, b: B) => R, a: A, b: B) => R;
  /** The call completed; called exactly once. */
  end(result: RpcResult): void;
}

/** One observer made of several (tracing and metrics side by side); undefined when none is given. */
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
            end(result) {
              for (const call of calls) call.end(result);
            },
          };
        },
      };
    },
  };
}
