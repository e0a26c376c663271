import { context, diag, DiagLogLevel, propagation, trace, type DiagLogFunction } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, detectResources, resourceAttributesEnvDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace";
import type { Logger } from "pino";
import type { RpcObserver } from "./rpc-observer.js";
import { traceRpcCalls } from "./rpc-tracing.js";
import type { ScriptObserver } from "./script-observer.js";
import { traceScripts } from "./script-tracing.js";
import type { SamplerName, TracesConfig } from "./traces-config.js";

/**
 * The OpenTelemetry SDK, configured. Only `main.ts` loads this module, by a
 * dynamic import and only when an OTLP endpoint is configured, so a server
 * without tracing never loads the SDK.
 */
export interface Tracing {
  readonly rpc: RpcObserver;
  readonly scripts: ScriptObserver;
  /** Exports the spans ended so far. */
  flush(): Promise<void>;
  /**
   * Exports the spans still pending, then releases the global context
   * manager, propagator and provider. Never rejects: a collector that cannot
   * be reached is logged, and the process stops all the same.
   */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  readonly logger: Logger;
  /** Replaces the OTLP exporter behind a batch processor: tests use an in-memory exporter, the bench a no-op one. */
  readonly spanProcessor?: SpanProcessor;
}

/**
 * Registers the SDK globally (an AsyncLocalStorage context manager, the W3C
 * trace-context and baggage propagators, the tracer provider) and returns the
 * observers that make the spans. Spans leave through a batch processor
 * (OTEL_BSP_*, see `BatchConfig`) and the OTLP protobuf exporter, which
 * reads the OTEL_EXPORTER_OTLP_* variables itself.
 * OTel's own errors (an unreachable collector) are logged at warn.
 */
export function startTracing(config: TracesConfig, { logger, spanProcessor }: TracingOptions): Tracing {
  const otelLog = logger.child({ component: "opentelemetry" });
  const forward =
    (level: "warn" | "info"): DiagLogFunction =>
    (message, ...args) =>
      otelLog[level]({ details: args.map((a) => (a instanceof Error ? a.message : a)) }, message);
  const quiet: DiagLogFunction = () => undefined;
  diag.setLogger({ error: forward("warn"), warn: forward("warn"), info: quiet, debug: quiet, verbose: quiet }, DiagLogLevel.WARN);

  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  const resource = defaultResource()
    .merge(detectResources({ detectors: [resourceAttributesEnvDetector] }))
    .merge(resourceFromAttributes({ "service.name": config.serviceName }));
  const provider = new TracerProvider({
    resource,
    sampler: samplerOf(config.sampler, config.samplerRatio),
    spanProcessors: [spanProcessor ?? new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...definedOnly(config.batch) })],
  });
  trace.setGlobalTracerProvider(provider);
  const tracer = provider.getTracer("boxoffice");
  logger.info({ endpoint: config.endpoint, serviceName: config.serviceName, sampler: config.sampler, ratio: config.samplerRatio }, "exporting traces over OTLP");

  let stopping: Promise<void> | undefined;
  return {
    rpc: traceRpcCalls(tracer),
    scripts: traceScripts(tracer),
    flush: () => provider.forceFlush(),
    shutdown() {
      stopping ??= provider
        .shutdown()
        .catch((err: unknown) => otelLog.warn({ err }, "the last spans could not be exported"))
        .finally(() => {
          trace.disable();
          propagation.disable();
          context.disable();
          diag.disable();
        });
      return stopping;
    },
  };
}

/** The fields that are set: the processor takes an explicit undefined for a value, not for its default. */
function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function samplerOf(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}
