/**
 * `npm run bench:traces`: what tracing costs a unary call. Three service
 * processes over one private redis-server, measured in turn with h2load
 * (Join, the "already joined" path: one script call):
 *
 * - off: no OTLP endpoint, so the SDK is not even loaded (the default);
 * - sampled out: an endpoint and OTEL_TRACES_SAMPLER=always_off, so every
 *   call makes a non-recording span and nothing is exported (the cost of the
 *   instrumentation itself);
 * - every call: an endpoint and always_on, every span exported over OTLP to
 *   a stand-in collector in this process that reads and discards the bodies.
 *
 * Rounds are interleaved (off, sampled out, every call, off, …) and the
 * median is reported, with the ratio to "off". Knobs: BENCH_SECONDS,
 * BENCH_REPEAT, BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS, BENCH_STREAMS.
 */
import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { JoinRequestSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { QueueStore } from "../src/queue/queue-store.js";
import { startEmbeddedRedis } from "../src/redis/embedded-redis.js";
import { ChildSet } from "./children.js";
import { PAUSED } from "./context.js";
import { CpuMeter } from "./cpu-meter.js";
import { framedRequest } from "./grpc-wire.js";
import { runH2load } from "./h2load.js";
import { startService, type ServiceProcess } from "./service.js";
import { loadBenchSettings } from "./settings.js";

const JOIN = "/boxoffice.v1.QueueService/Join";

interface Variant {
  readonly label: string;
  readonly env: Record<string, string>;
  service?: ServiceProcess;
  readonly runs: Array<{ reqPerSec: number; p99Ms: number; serverCpuUs: number }>;
}

async function main(): Promise<void> {
  const settings = loadBenchSettings(process.env);
  const children = new ChildSet();
  process.once("SIGINT", () => process.exit(130));
  process.once("SIGTERM", () => process.exit(143));
  const dir = await mkdtemp(join(tmpdir(), "boxoffice-bench-traces-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));

  // The stand-in collector: reads every export and answers an empty success.
  let exports = 0;
  let exportedBytes = 0;
  const collector = createServer((req, res) => {
    req.on("data", (chunk: Buffer) => (exportedBytes += chunk.length));
    req.on("end", () => {
      exports += 1;
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;

  const embedded = await startEmbeddedRedis();
  const redis = new Redis(embedded.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await redis.connect();
    const eventId = `bench-traces-${process.pid}`;
    await new QueueStore(redis).configure(eventId, { state: PAUSED });
    const body = framedRequest(JoinRequestSchema, { eventId, userId: "idem-user" });

    const variants: Variant[] = [
      { label: "off (no endpoint, SDK not loaded)", env: {}, runs: [] },
      { label: "on, sampled out (always_off)", env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER: "always_off" }, runs: [] },
      { label: "on, every call exported", env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER: "always_on" }, runs: [] },
    ];
    for (const variant of variants) {
      variant.service = await startService(children, { redisUrl: embedded.url, watchIntervalMs: 250, admitIntervalMs: 0, env: variant.env });
    }
    console.log(
      `Join on the gRPC port, h2load ${settings.connections} connections × ${settings.streams} streams, ` +
        `${settings.seconds} s measured after ${settings.warmupSeconds} s, ${settings.repeat} interleaved rounds`,
    );
    for (let round = 0; round < settings.repeat; round++) {
      for (const variant of variants) {
        const service = variant.service!;
        const meter = new CpuMeter(service.child.pid, redis);
        process.stdout.write(`  ${variant.label} … `);
        const result = await runH2load(children, {
          port: service.grpcPort,
          path: JOIN,
          body,
          connections: settings.connections,
          streams: settings.streams,
          seconds: settings.seconds,
          warmupSeconds: settings.warmupSeconds,
          dir,
          onMeasureStart: () => meter.start(),
        });
        const cpu = await meter.stop();
        if (result.failed > 0 || result.succeeded !== result.done) {
          throw new Error(`${variant.label}: ${result.done} done, ${result.succeeded} succeeded`);
        }
        const serverCpuUs = (cpu.serverMs * 1000) / result.done;
        variant.runs.push({ reqPerSec: result.reqPerSec, p99Ms: result.p99Ms, serverCpuUs });
        process.stdout.write(`${Math.round(result.reqPerSec)} req/s, p99 ${Number.isFinite(result.p99Ms) ? result.p99Ms.toFixed(2) : "—"} ms, ${serverCpuUs.toFixed(0)} µs CPU/call\n`);
      }
    }
    for (const variant of variants) await variant.service!.stop();

    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const base = median(variants[0]!.runs.map((r) => r.reqPerSec));
    const baseCpu = median(variants[0]!.runs.map((r) => r.serverCpuUs));
    console.log("\n| Service | Join req/s (median) | vs off | p99 ms | server CPU µs/call | vs off |");
    console.log("|---|---:|---:|---:|---:|---:|");
    for (const variant of variants) {
      const rate = median(variant.runs.map((r) => r.reqPerSec));
      const cpu = median(variant.runs.map((r) => r.serverCpuUs));
      console.log(
        `| ${variant.label} | ${Math.round(rate)} | ${(rate / base).toFixed(2)} | ${median(variant.runs.map((r) => r.p99Ms)).toFixed(2)} | ` +
          `${cpu.toFixed(0)} | ${(cpu / baseCpu).toFixed(2)} |`,
      );
    }
    console.log(`\nThe collector received ${exports} exports, ${(exportedBytes / 1e6).toFixed(1)} MB.`);
  } finally {
    redis.disconnect();
    await embedded.stop();
    collector.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
