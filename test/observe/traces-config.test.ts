import { expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

const problemsOf = (env: Record<string, string>): readonly string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

it("turns tracing on only with an OTLP endpoint, and not with OTEL_SDK_DISABLED=true", () => {
  expect(loadConfig({}).traces).toBeUndefined();
  expect(loadConfig({ OTEL_SERVICE_NAME: "x", OTEL_TRACES_SAMPLER: "always_off" }).traces).toBeUndefined();
  expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SDK_DISABLED: "true" }).traces).toBeUndefined();
  expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }).traces).toEqual({
    endpoint: "http://127.0.0.1:4318",
    serviceName: "boxoffice",
    sampler: "parentbased_always_on",
    samplerRatio: 1,
    batch: { scheduledDelayMillis: undefined, maxQueueSize: undefined, maxExportBatchSize: undefined, exportTimeoutMillis: undefined },
  });
  expect(
    loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:9999/v1/traces",
      OTEL_SERVICE_NAME: "boxoffice-eu",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_BSP_SCHEDULE_DELAY: "1000",
      OTEL_BSP_MAX_QUEUE_SIZE: "8192",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "1024",
      OTEL_BSP_EXPORT_TIMEOUT: "10000",
    }).traces,
  ).toEqual({
    endpoint: "http://127.0.0.1:9999/v1/traces",
    serviceName: "boxoffice-eu",
    sampler: "parentbased_traceidratio",
    samplerRatio: 0.25,
    batch: { scheduledDelayMillis: 1000, maxQueueSize: 8192, maxExportBatchSize: 1024, exportTimeoutMillis: 10000 },
  });
});

it("lists a bad endpoint, sampler and ratio with the other problems", () => {
  expect(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "127.0.0.1:4318", OTEL_TRACES_SAMPLER: "sometimes", PORT: "x" })).toEqual([
    'PORT must be an integer from 0 to 65535, got "x"',
    'the OTLP endpoint must be an http:// or https:// URL, got "127.0.0.1:4318"',
    expect.stringMatching(/^OTEL_TRACES_SAMPLER must be one of always_on, .*, got "sometimes"$/),
  ]);
  expect(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_BSP_MAX_QUEUE_SIZE: "100", OTEL_BSP_SCHEDULE_DELAY: "soon" })).toEqual([
    'OTEL_BSP_SCHEDULE_DELAY must be an integer from 0 to 3600000, got "soon"',
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not exceed OTEL_BSP_MAX_QUEUE_SIZE (default 2048)",
  ]);
  for (const ratio of ["2", "-0.5", "half"]) {
    expect(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: ratio })).toEqual([
      `OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "${ratio}"`,
    ]);
  }
});
