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
 * Rounds are interleaved and the fastest round of each mode is reported
 * (the least disturbed by other processes). Knobs: POLICY_CALLS, POLICY_ROUNDS.
 */
import { Writable } from "node:stream";
import { Metadata } from "@grpc/grpc-js";
import pino from "pino";
import { Registry } from "prom-client";
import { QueueService, type JoinRequest } from "../gen/boxoffice/v1/queue_pb.js";
import { create } from "@bufbuild/protobuf";
import { JoinRequestSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { Authenticator } from "../src/auth/authenticator.js";
import { createLogger } from "../src/logger.js";
import { RpcMetrics } from "../src/metrics/rpc-metrics.js";
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
};

function surface(metadata: Metadata): ServerSurfaceCall {
  return { cancelled: false, metadata, getDeadline: () => Infinity, getHost: () => "127.0.0.1", sendMetadata: () => undefined, once: () => undefined };
}

async function round(fn: Join): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${tokens[0]!.token}`);
    const gc = new GrpcCall(rt, surface(metadata));
    await fn(request, gc.ctx);
    const headers = gc.ctx.headersIfSet();
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
  for (const [name, us] of Object.entries(best)) {
    console.log(`  ${name.padEnd(11)} ${us.toFixed(2).padStart(7)} µs   policy +${(us - bare).toFixed(2)} µs`);
  }
}

await main();
