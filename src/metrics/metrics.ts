import { collectDefaultMetrics, Registry } from "prom-client";
import { RpcMetrics } from "./rpc-metrics.js";
import { ScriptMetrics } from "./script-metrics.js";

/** The registry of one app and the observers that feed it. */
export interface MetricsCore {
  /** The app's own registry (never prom-client's global one): several apps in one process keep apart. */
  readonly registry: Registry;
  /** Observes calls on both ports (`grpc_server_*`). */
  readonly calls: RpcMetrics;
  /** Observes every Lua script call (`boxoffice_redis_script_*`). */
  readonly scripts: ScriptMetrics;
}

/** Sampling resolution of the event-loop delay histogram (`nodejs_eventloop_lag_*`). */
const EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * A registry with the process's own metrics (CPU, memory, heap, GC, handles,
 * event-loop lag) and the RPC and script observers. The per-event series
 * join it once the stores exist (`registerEventMetrics`).
 */
export function createMetricsCore(): MetricsCore {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_MS });
  return { registry, calls: new RpcMetrics(registry), scripts: new ScriptMetrics(registry) };
}
