import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { Code, HandlerContext } from "@connectrpc/connect";

/** Which port a call came in on: grpc-js (`PORT`) or connect-node (`CONNECT_PORT`, any of its protocols). */
export type Transport = "grpc" | "connect";

/** One method as served on one port. */
export interface ObservedMethod {
  /** `boxoffice.v1.QueueService` */
  readonly service: string;
  /** `Join` */
  readonly method: string;
  readonly kind: DescMethod["methodKind"];
  readonly transport: Transport;
}

/**
 * What watches calls complete: metrics today, trace spans later, at the one
 * point where each call's code and duration are known (the call log). Asked
 * once per method and port when the servers are built, so per-call work is
 * what the observer itself does; with no observer the call path does not
 * change at all.
 */
export interface CallObserver {
  /** The method's observer, or undefined to leave the method alone. */
  method(method: ObservedMethod): MethodObserver | undefined;
}

export interface MethodObserver {
  /**
   * A call started. `ctx` is the call's context (its request headers carry
   * any trace parent); undefined for a call the transport refused before it
   * had one (an undecodable request, a stream opened while draining).
   */
  start(ctx: HandlerContext | undefined): CallObservation;
}

/** One call, from start to completion. */
export interface CallObservation {
  /** One request message was read. */
  received(): void;
  /** One response message was sent. */
  sent(): void;
  /** The call completed: `code` undefined is OK. Called once. */
  end(code: Code | undefined, seconds: number): void;
}

/** Every observer's view of a method in one, or undefined when none observes it. */
export function combineObservers(observers: ReadonlyArray<CallObserver | undefined>): CallObserver | undefined {
  const present = observers.filter((o): o is CallObserver => o !== undefined);
  if (present.length <= 1) {
    return present[0];
  }
  return {
    method(method) {
      const parts = present.map((o) => o.method(method)).filter((m): m is MethodObserver => m !== undefined);
      if (parts.length <= 1) {
        return parts[0];
      }
      return {
        start(ctx) {
          const calls = parts.map((p) => p.start(ctx));
          return {
            received: () => calls.forEach((c) => c.received()),
            sent: () => calls.forEach((c) => c.sent()),
            end: (code, seconds) => calls.forEach((c) => c.end(code, seconds)),
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
export function observersOf(observer: CallObserver, transport: Transport): (service: DescService, method: DescMethod) => MethodObserver | undefined {
  const made = new Map<DescMethod, MethodObserver | undefined>();
  return (service, method) => {
    if (!made.has(method)) {
      made.set(method, observer.method({ service: service.typeName, method: method.name, kind: method.methodKind, transport }));
    }
    return made.get(method);
  };
}

/** Records a call the transport refused before any handler ran. */
export function observeRefusal(observer: MethodObserver | undefined, code: Code): void {
  observer?.start(undefined).end(code, 0);
}
