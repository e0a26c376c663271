import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { trace } from "@opentelemetry/api";
import { expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { startTracing } from "../../src/observe/otel-sdk.js";

it("stops cleanly when the collector cannot be reached, saying so at warn", async () => {
  // A loopback port nobody listens on any more.
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  let output = "";
  const logger = createLogger("info", new Writable({ write: (chunk: Buffer, _e, done) => ((output += chunk.toString()), done()) }));
  const tracing = startTracing(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }).traces!, { logger });
  trace.getTracer("test").startSpan("lost").end();
  await expect(tracing.shutdown()).resolves.toBeUndefined();
  const lines = output.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { level: number; msg: string; err?: { code?: string } });
  expect(lines.map((l) => [l.level, l.msg])).toEqual([
    [30, "exporting traces over OTLP"],
    [40, "the last spans could not be exported"],
  ]);
  expect(lines[1]!.err?.code).toBe("ECONNREFUSED");
  // The globals are released: spans made now are no-ops.
  expect(trace.getTracer("test").startSpan("after").isRecording()).toBe(false);
});
