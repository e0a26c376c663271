/** The samplers of the OpenTelemetry specification, as `OTEL_TRACES_SAMPLER` names them. */
export const SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;

export type SamplerName = (typeof SAMPLERS)[number];

/** Tracing, on when an OTLP endpoint is configured. */
export interface TracesConfig {
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT (the exporter adds `/v1/traces` to the latter). */
  readonly endpoint: string;
  /** OTEL_SERVICE_NAME, default `boxoffice`. */
  readonly serviceName: string;
  /** OTEL_TRACES_SAMPLER, default `parentbased_always_on`. */
  readonly sampler: SamplerName;
  /** OTEL_TRACES_SAMPLER_ARG for the ratio samplers, from 0 to 1; default 1. */
  readonly samplerRatio: number;
  /** OTEL_BSP_*: the batch span processor's delay, queue, batch and timeout; undefined keeps the SDK's default. */
  readonly batch: BatchConfig;
}

export interface BatchConfig {
  /** OTEL_BSP_SCHEDULE_DELAY (ms; default 5000). */
  readonly scheduledDelayMillis: number | undefined;
  /** OTEL_BSP_MAX_QUEUE_SIZE (default 2048): spans ended beyond it, before an export, are dropped. */
  readonly maxQueueSize: number | undefined;
  /** OTEL_BSP_MAX_EXPORT_BATCH_SIZE (default 512), at most the queue size. */
  readonly maxExportBatchSize: number | undefined;
  /** OTEL_BSP_EXPORT_TIMEOUT (ms; default 30000). */
  readonly exportTimeoutMillis: number | undefined;
}

/**
 * The standard OpenTelemetry variables this server reads itself; undefined
 * (tracing off, the SDK never loaded) unless an OTLP endpoint is set and
 * OTEL_SDK_DISABLED is not `true`. The exporter reads its own variables
 * (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION…), and the resource
 * OTEL_RESOURCE_ATTRIBUTES.
 */
export function readTracesConfig(env: Readonly<Record<string, string | undefined>>, problems: string[]): TracesConfig | undefined {
  const endpoint = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] || env["OTEL_EXPORTER_OTLP_ENDPOINT"] || undefined;
  if (endpoint === undefined || env["OTEL_SDK_DISABLED"]?.trim().toLowerCase() === "true") {
    return undefined;
  }
  if (!/^https?:\/\/[^/\s]+/.test(endpoint)) {
    problems.push(`the OTLP endpoint must be an http:// or https:// URL, got "${endpoint}"`);
  }
  const sampler = (env["OTEL_TRACES_SAMPLER"] || "parentbased_always_on").trim().toLowerCase();
  if (!(SAMPLERS as readonly string[]).includes(sampler)) {
    problems.push(`OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(", ")}, got "${sampler}"`);
  }
  const rawRatio = env["OTEL_TRACES_SAMPLER_ARG"];
  let samplerRatio = 1;
  if (rawRatio !== undefined && rawRatio !== "" && sampler.endsWith("traceidratio")) {
    samplerRatio = Number(rawRatio);
    if (!/^\s*\d*\.?\d+\s*$/.test(rawRatio) || samplerRatio > 1) {
      problems.push(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "${rawRatio}"`);
      samplerRatio = 1;
    }
  }
  const count = (name: string, min: number, max: number): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === "") {
      return undefined;
    }
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return undefined;
    }
    return value;
  };
  const batch: BatchConfig = Object.freeze({
    scheduledDelayMillis: count("OTEL_BSP_SCHEDULE_DELAY", 0, 3_600_000),
    maxQueueSize: count("OTEL_BSP_MAX_QUEUE_SIZE", 1, 1_000_000),
    maxExportBatchSize: count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, 1_000_000),
    exportTimeoutMillis: count("OTEL_BSP_EXPORT_TIMEOUT", 1, 3_600_000),
  });
  if ((batch.maxExportBatchSize ?? 512) > (batch.maxQueueSize ?? 2048)) {
    problems.push("OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not exceed OTEL_BSP_MAX_QUEUE_SIZE (default 2048)");
  }
  return Object.freeze({
    endpoint,
    serviceName: env["OTEL_SERVICE_NAME"] || "boxoffice",
    sampler: sampler as SamplerName,
    samplerRatio,
    batch,
  });
}
