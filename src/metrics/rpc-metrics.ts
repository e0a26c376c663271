import type { Code } from "@connectrpc/connect";
import type { Registry } from "prom-client";
import type { RpcCallObserver, RpcMethod, RpcMethodObserver, RpcObserver, RpcResult } from "../observe/rpc-observer.js";
import { codeName } from "../rpc/code-names.js";
import { HistogramCells, registerCollected, type Sample } from "./collected.js";

/**
 * Buckets of `grpc_server_handling_seconds`: unary calls take from a few
 * hundred microseconds to tens of milliseconds; streams last minutes to hours.
 */
export const HANDLING_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600,
];

const GRPC_TYPES: Readonly<Record<RpcMethod["kind"], string>> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

/** Highest gRPC status code (UNAUTHENTICATED). */
const MAX_CODE = 16;

/**
 * The counts of one method on one port. Every call of the method shares it:
 * it is the method's observer and each call's observation at once, so a call
 * costs a few additions and no allocation.
 */
class MethodCells implements RpcMethodObserver, RpcCallObserver {
  readonly labels: Readonly<Record<string, string>>;
  started = 0;
  receivedCount = 0;
  sentCount = 0;
  /** Completed calls by status code (index = code, 0 = OK). */
  readonly handled = new Float64Array(MAX_CODE + 1);
  readonly handling = new HistogramCells(HANDLING_BUCKETS);

  constructor(method: RpcMethod) {
    this.labels = {
      grpc_service: method.service,
      grpc_method: method.method,
      grpc_type: GRPC_TYPES[method.kind],
      transport: method.transport,
    };
  }

  start(): RpcCallObserver {
    this.started += 1;
    return this;
  }

  // Arrow properties: the call path reads them as optional members of the observer.
  readonly received = (): void => {
    this.receivedCount += 1;
  };

  readonly sent = (): void => {
    this.sentCount += 1;
  };

  end({ code, durationMs }: RpcResult): void {
    this.handled[Math.min(Math.max(code, 0), MAX_CODE)]! += 1;
    this.handling.observe(durationMs / 1000);
  }
}

/**
 * The `grpc_server_*` metrics, kept as plain numbers per method and port and
 * turned into samples at scrape time.
 */
export class RpcMetrics implements RpcObserver {
  readonly #methods = new Map<string, MethodCells>();

  constructor(registry: Registry) {
    const each = (fn: (m: MethodCells) => Sample[]) => (): Sample[] => [...this.#methods.values()].flatMap(fn);
    registerCollected(registry, {
      name: "grpc_server_started_total",
      help: "RPCs started on the server, including those refused before their handler.",
      type: "counter",
      collect: each((m) => (m.started > 0 ? [{ labels: m.labels, value: m.started }] : [])),
    });
    registerCollected(registry, {
      name: "grpc_server_handled_total",
      help: "RPCs completed on the server, by status code.",
      type: "counter",
      collect: each((m) =>
        [...m.handled.entries()].filter(([, n]) => n > 0).map(([code, n]) => ({ labels: { ...m.labels, grpc_code: codeName(code as Code) }, value: n })),
      ),
    });
    registerCollected(registry, {
      name: "grpc_server_handling_seconds",
      help: "Time from the start of an RPC to its completion (for streams, the stream's lifetime).",
      type: "histogram",
      collect: each((m) => (m.handling.count > 0 ? m.handling.samples("grpc_server_handling_seconds", m.labels) : [])),
    });
    registerCollected(registry, {
      name: "grpc_server_msg_received_total",
      help: "Request messages received by RPCs that reached their handler.",
      type: "counter",
      collect: each((m) => (m.receivedCount > 0 ? [{ labels: m.labels, value: m.receivedCount }] : [])),
    });
    registerCollected(registry, {
      name: "grpc_server_msg_sent_total",
      help: "Response messages sent by RPCs.",
      type: "counter",
      collect: each((m) => (m.sentCount > 0 ? [{ labels: m.labels, value: m.sentCount }] : [])),
    });
  }

  forMethod(method: RpcMethod): RpcMethodObserver {
    const key = `${method.transport} ${method.service}/${method.method}`;
    let cells = this.#methods.get(key);
    if (cells === undefined) {
      cells = new MethodCells(method);
      this.#methods.set(key, cells);
    }
    return cells;
  }
}
