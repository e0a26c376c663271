import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type TextMapGetter, type Tracer } from "@opentelemetry/api";
import type { RpcCallObserver, RpcObserver } from "./rpc-observer.js";
import { withScriptBudget, type ScriptSpanBudget } from "./script-budget.js";

export interface RpcTracingOptions {
  /** Script spans a stream may make (see `ScriptSpanBudget`); default 20. Unary calls have no limit. */
  readonly streamScriptSpans?: number;
}

/** Reads `traceparent`, `tracestate` (and baggage) from a call's request headers, whichever transport carried it. */
const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

/** `rpc.system` by wire protocol: the Connect protocol is `connect_rpc`; gRPC and gRPC-Web are `grpc`. */
const systemOf = (protocolName: string): string => (protocolName === "connect" ? "connect_rpc" : "grpc");

/** A call the transport refused before it had a context (and so no trace to join): no span. */
const UNTRACED: RpcCallObserver = { end: () => undefined };

/**
 * A server span per call, named `boxoffice.v1.QueueService/Join`, child of
 * the caller's span when the request carries `traceparent`. The span is
 * current while the implementation runs (and during each step of a stream),
 * so the Redis script spans made there are its children. A stream's span
 * lasts as long as the stream; its first `streamScriptSpans` script calls
 * make spans, the rest are counted in `boxoffice.script_spans_dropped`. Any
 * code but OK sets the status to error.
 *
 * Calls a transport refuses before any handler runs make no span.
 *
 * Attributes: `rpc.system`, `rpc.service`, `rpc.method`,
 * `rpc.grpc.status_code`, `boxoffice.request_id`, and `boxoffice.event_id`
 * when the request names one.
 */
export function traceRpcCalls(tracer: Tracer, { streamScriptSpans = 20 }: RpcTracingOptions = {}): RpcObserver {
  return {
    forMethod({ service, method, kind }) {
      const name = `${service}/${method}`;
      const streaming = kind !== "unary";
      return {
        start(ctx) {
          if (ctx === undefined) {
            return UNTRACED;
          }
          const parent = propagation.extract(ROOT_CONTEXT, ctx.requestHeader, headerGetter);
          const span = tracer.startSpan(
            name,
            { kind: SpanKind.SERVER, attributes: { "rpc.system": systemOf(ctx.protocolName), "rpc.service": service, "rpc.method": method } },
            parent,
          );
          const budget: ScriptSpanBudget | undefined = streaming ? { left: streamScriptSpans, dropped: 0 } : undefined;
          const current = budget === undefined ? trace.setSpan(parent, span) : withScriptBudget(trace.setSpan(parent, span), budget);
          return {
            within: (fn, a, b) => context.with(current, fn, undefined, a, b),
            end({ code, error, requestId, eventId }) {
              span.setAttribute("rpc.grpc.status_code", code);
              span.setAttribute("boxoffice.request_id", requestId);
              if (eventId !== undefined) {
                span.setAttribute("boxoffice.event_id", eventId);
              }
              if (budget !== undefined && budget.dropped > 0) {
                span.setAttribute("boxoffice.script_spans_dropped", budget.dropped);
              }
              if (error !== undefined) {
                span.setStatus({ code: SpanStatusCode.ERROR, message: error.rawMessage });
              }
              span.end();
            },
          };
        },
      };
    },
  };
}
