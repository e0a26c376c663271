/**
 * `npx tsx bench/policy-cost.ts`: what the call policy costs per unary call,
 * in-process and without Redis, so it can be read on a busy machine.
 *
 * Each mode runs QueueService/Join through the grpc-js adapter's own handler
 * context (request metadata → headers on demand, response headers → metadata
 * as the adapter sends them) into an implementation that answers at once:
 * - `bare`: the implementation alone (the floor);
 * - `dev`: the policy without tokens (development mode);
 * - `auth`: the policy with a client token checked against 4 configured ones;
 * - `auth+log`: as `auth`, with the completion line written at info (LOG_CALLS=true) to a discarding stream;
 * - `dev+metrics`: as `dev`, with the `grpc_server_*` metrics observing the call (METRICS_PORT not off).
 * With POLICY_TRACES=1 the OpenTelemetry SDK is configured first (as an OTLP
 * endpoint would, but spans go to an exporter that discards them), and three
 * more modes run:
 * - `dev+span`: as `dev`, with a server span per call, exported;
 * - `dev+unsampled`: as `dev`, with a span per call that the sampler drops;
 * - `dev+span+metrics`: as `dev+span`, with the metrics observing the call too (both composed).
 * Without it the process never loads the SDK, as a server without an
 * endpoint. Rounds are interleaved and the fastest round of each mode is
 * reported (the least disturbed by other processes). Knobs: POLICY_CALLS,
 * POLICY_ROUNDS, POLICY_TRACES.
 */
import { Writable } from "node:stream";
import { Metadata } from "@grpc/grpc-js";
import pino from "pino";
import { Registry } from "prom-client";
import { QueueService, type JoinRequest } from "../gen/boxoffice/v1/queue_pb.js";
import { create } from "@bufbuild/protobuf";
import { JoinRequestSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { Authenticator } from "../src/auth/authenticator.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { RpcMetrics } from "../src/metrics/rpc-metrics.js";
import { composeRpcObservers } from "../src/observe/rpc-observer.js";
import { withCallPolicy, type CallPolicyDeps } from "../src/rpc/policy.js";
import { registration } from "../src/rpc/registration.js";
import { createRequestValidator } from "../src/rpc/validator.js";
import { CallRegistry } from "../src/transport/call-registry.js";
import { GrpcCall, type MethodRuntime, type ServerSurfaceCall } from "../src/transport/grpc/call-context.js";
import { appendHeadersToMetadata } from "../src/transport/grpc/metadata.js";

type Join = (request: JoinRequest, ctx: unknown) => Promise<unknown>;

const CALLS = Number(process.env["POLICY_CALLS"] ?? 50_000);
const ROUNDS = Number(process.env["POLICY_ROUNDS"] ?? 7);
const tokens = ["client", "admin", "client", "admin"].map((role, i) => ({ role: role as "client" | "admin", token: `${role}-token-${i}-0123456789abcdef` }));
const response = { ticket: { eventId: "bench", userId: "u", position: 1 }, newlyJoined: false };
const request = create(JoinRequestSchema, { eventId: "bench-event", userId: "user-1" });

const method = QueueService.method.join;
const rt: MethodRuntime = { service: QueueService, method, path: "/boxoffice.v1.QueueService/Join", streaming: false, registry: new CallRegistry(), logger: undefined };

function join(deps: CallPolicyDeps | undefined): Join {
  const impl = { join: async () => response } as unknown as Parameters<typeof registration<typeof QueueService>>[1];
  const reg = registration(QueueService, impl);
  const wrapped = deps ? withCallPolicy(reg, deps) : reg;
  return (wrapped.impl as unknown as { join: Join }).join;
}

const quiet = pino({ level: "warn" }, new Writable({ write: (_c, _e, done) => done() }));
const validator = createRequestValidator();
const modes: Record<string, Join> = {
  bare: join(undefined),
  dev: join({ logger: quiet, validator }),
  auth: join({ logger: quiet, validator, authenticator: new Authenticator(tokens) }),
  "auth+log": join({
    logger: createLogger("info", new Writable({ write: (_c, _e, done) => done() })),
    validator,
    authenticator: new Authenticator(tokens),
    logCalls: true,
  }),
  "dev+metrics": join({ logger: quiet, validator, observe: { observer: new RpcMetrics(new Registry()), transport: "grpc" } }),
  ...(process.env["POLICY_TRACES"] === "1" ? await tracedModes() : {}),
};

/** The SDK configured as `main.ts` would (by a dynamic import), spans discarded by the exporter. */
async function tracedModes(): Promise<Record<string, Join>> {
  const sdk = await import("@opentelemetry/sdk-trace");
  const { startTracing } = await import("../src/observe/otel-sdk.js");
  const { traceRpcCalls } = await import("../src/observe/rpc-tracing.js");
  const discard = { export: (_spans: unknown, done: (result: { code: 0 }) => void) => done({ code: 0 }), shutdown: async () => undefined };
  const traces = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_BSP_MAX_QUEUE_SIZE: "65536" }).traces!;
  const tracing = startTracing(traces, { logger: quiet, spanProcessor: new sdk.BatchSpanProcessor({ exporter: discard, maxQueueSize: 65536 }) });
  const unsampled = new sdk.TracerProvider({ sampler: new sdk.AlwaysOffSampler() }).getTracer("bench");
  return {
    "dev+span": join({ logger: quiet, validator, observe: { observer: tracing.rpc, transport: "grpc" } }),
    "dev+unsampled": join({ logger: quiet, validator, observe: { observer: traceRpcCalls(unsampled), transport: "grpc" } }),
    "dev+span+metrics": join({
      logger: quiet,
      validator,
      observe: { observer: composeRpcObservers(new RpcMetrics(new Registry()), tracing.rpc)!, transport: "grpc" },
    }),
  };
}

function surface(metadata: Metadata): ServerSurfaceCall {
  return { cancelled: false, metadata, getDeadline: () => Infinity, getHost: () => "127.0.0.1", sendMetadata: () => undefined, on: () => undefined };
}

async function round(fn: Join): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${tokens[0]!.token}`);
    const gc = new GrpcCall(rt, surface(metadata));
    await fn(request, gc.ctx);
    const headers = gc.ctx.takeHeaders();
    if (headers) appendHeadersToMetadata(headers);
    gc.close();
  }
  return ((performance.now() - started) * 1e3) / CALLS;
}

async function main(): Promise<void> {
  const best: Record<string, number> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(modes)) {
      const us = await round(fn);
      if (r > 0) best[name] = Math.min(best[name] ?? Infinity, us);
    }
  }
  const bare = best["bare"]!;
  console.log(`${CALLS} calls × ${ROUNDS - 1} rounds (first discarded), fastest round, µs per call:`);
  const width = Math.max(...Object.keys(best).map((name) => name.length));
  for (const [name, us] of Object.entries(best)) {
    console.log(`  ${name.padEnd(width)} ${us.toFixed(2).padStart(7)} µs   policy +${(us - bare).toFixed(2)} µs`);
  }
}

await main();
