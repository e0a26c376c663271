import type { DescMessage } from "@bufbuild/protobuf";
import {
  GetPositionRequestSchema,
  GetPositionResponseSchema,
  JoinRequestSchema,
  JoinResponseSchema,
} from "../gen/boxoffice/v1/queue_pb.js";
import { HealthCheckResponseSchema } from "../gen/grpc/health/v1/health_pb.js";
import { type BenchContext, interleaved, PAUSED, type ResultRow, type Servers } from "./context.js";
import { CpuMeter } from "./cpu-meter.js";
import { frame, framedRequest } from "./grpc-wire.js";
import { callOk } from "./h2-unary.js";
import { runH2load } from "./h2load.js";
import { HEALTH_CHECK, healthCheckBody } from "./service.js";

const JOIN = "/boxoffice.v1.QueueService/Join";
const GET_POSITION = "/boxoffice.v1.QueueService/GetPosition";

interface UnaryTarget {
  readonly key: string;
  readonly label: string;
  readonly port: number;
  /** The process answering on `port`, for its CPU time. */
  readonly pid: number;
  readonly path: string;
  readonly body: Buffer;
  readonly response: DescMessage;
  /** Pace to this many calls per second in total; saturate when unset. */
  readonly rate?: number;
  /** Measured seconds, connections and streams per connection, when not the configured ones. */
  readonly seconds?: number;
  readonly connections?: number;
  readonly streams?: number;
}

/**
 * The h2load runs: every target gets the same connections, streams, warm-up
 * and duration. h2load sends one body file for every request, so Join here
 * repeats one user: the idempotent "already joined" path (one script call
 * that reads the ticket, refreshes presence and ranks the user).
 */
export async function runUnary(ctx: BenchContext, servers: Servers): Promise<ResultRow[]> {
  const { service, peer } = servers;
  const eventId = `bench-idem-${ctx.runId}`;
  await ctx.store.configure(eventId, { state: PAUSED });
  const join = framedRequest(JoinRequestSchema, { eventId, userId: "idem-user" });
  const position = framedRequest(GetPositionRequestSchema, { eventId, userId: "idem-user" });
  const health = frame(healthCheckBody);
  const grpc = { port: service.grpcPort, pid: service.child.pid };
  const connect = { port: service.connectPort, pid: service.child.pid };

  const targets: UnaryTarget[] = [
    { key: "baseline", label: "Health/Check, gRPC port (baseline)", ...grpc, path: HEALTH_CHECK, body: health, response: HealthCheckResponseSchema },
    { key: "peer", label: "Join, peer (bare grpc-js)", port: peer.port, pid: peer.pid, path: JOIN, body: join, response: JoinResponseSchema },
    { key: "join-grpc", label: "Join, gRPC port", ...grpc, path: JOIN, body: join, response: JoinResponseSchema },
    { key: "position-grpc", label: "GetPosition, gRPC port", ...grpc, path: GET_POSITION, body: position, response: GetPositionResponseSchema },
    { key: "join-connect", label: "Join, Connect port (gRPC protocol)", ...connect, path: JOIN, body: join, response: JoinResponseSchema },
    { key: "check-connect", label: "Health/Check, Connect port", ...connect, path: HEALTH_CHECK, body: health, response: HealthCheckResponseSchema },
  ];
  const wanted = (key: string): boolean => ctx.settings.only?.has(key) ?? true;
  const { seconds, loadFactor } = ctx.settings;
  const rows = await interleaved(
    ctx,
    targets.filter((t) => wanted(t.key)),
    (target) => measure(ctx, target),
  );

  // Paced at a share of the saturated rate measured right before (the machine's capacity of the
  // moment), spread over many connections of at most 100 calls/s each, so that every h2load
  // timer tick releases one request per connection (see runH2load on de-synchronising ticks).
  // The peer gets the same absolute rate, and the gRPC port also half of it, to show the knee.
  const joinGrpc = targets.find((t) => t.key === "join-grpc");
  const joinPeer = targets.find((t) => t.key === "peer");
  if (joinGrpc && joinPeer && wanted("join-grpc-paced")) {
    process.stdout.write("  (saturation right before pacing) ");
    const now = await ctx.quiet.measure(() => measure(ctx, joinGrpc));
    const rate = loadFactor * now.reqPerSec;
    const pct = Math.round(loadFactor * 100);
    const paced = [
      { ...joinGrpc, key: "join-grpc-paced", label: `Join, gRPC port, paced at ${pct}% (${Math.round(rate)}/s)`, rate },
      { ...joinPeer, key: "peer-paced", label: `Join, peer, paced at the same ${Math.round(rate)}/s`, rate },
      { ...joinGrpc, key: "join-grpc-half", label: `Join, gRPC port, paced at ${pct / 2}% (${Math.round(rate / 2)}/s)`, rate: rate / 2 },
    ];
    for (const target of paced) {
      const connections = Math.max(ctx.settings.connections, Math.ceil(target.rate / 100));
      const row = await ctx.quiet.measure(() => measure(ctx, { ...target, seconds: seconds * 2, connections, streams: 8 }));
      rows.push({ ...row, minReqPerSec: row.reqPerSec, maxReqPerSec: row.reqPerSec });
    }
  }
  return rows;
}

async function measure(ctx: BenchContext, target: UnaryTarget): Promise<ResultRow> {
  const { settings } = ctx;
  // The exact bytes h2load will send must succeed: h2load itself only sees HTTP 200.
  const { frameBytes } = await callOk(target.port, target.path, target.body.subarray(5), target.response);
  // Joining first means the run repeats the "already joined" call, whose response has a fixed size.
  const { frameBytes: steadyBytes } = await callOk(target.port, target.path, target.body.subarray(5), target.response);
  const meter = new CpuMeter(target.pid, ctx.redis);
  process.stdout.write(`  ${target.label} … `);
  const result = await runH2load(ctx.children, {
    port: target.port,
    path: target.path,
    body: target.body,
    connections: target.connections ?? settings.connections,
    streams: target.streams ?? settings.streams,
    seconds: target.seconds ?? settings.seconds,
    warmupSeconds: settings.warmupSeconds,
    rate: target.rate,
    dir: ctx.dir,
    onMeasureStart: () => meter.start(),
  });
  const cpu = await meter.stop();
  await callOk(target.port, target.path, target.body.subarray(5), target.response);

  // An error is HTTP 200 with grpc-status in trailers and no message: every success adds exactly one frame.
  const allOk = result.failed === 0 && result.succeeded === result.done && result.dataBytes === result.done * steadyBytes;
  if (!allOk) {
    throw new Error(
      `${target.label}: ${result.done} done, ${result.succeeded} HTTP 2xx, ${result.dataBytes} data bytes ` +
        `(expected ${result.done * steadyBytes} = ${result.done} × ${steadyBytes}-byte responses; first call: ${frameBytes})`,
    );
  }
  process.stdout.write(`${Math.round(result.reqPerSec)} req/s, p99 ${result.p99Ms.toFixed(2)} ms\n`);
  return {
    key: target.key,
    label: target.label,
    reqPerSec: result.reqPerSec,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    serverCpuUs: (cpu.serverMs * 1000) / result.done,
    redisCpuUs: (cpu.redisMs * 1000) / result.done,
    otherLoad: cpu.otherLoad,
    paced: target.rate !== undefined,
    minReqPerSec: result.reqPerSec,
    maxReqPerSec: result.reqPerSec,
    check: `${result.done} × one ${steadyBytes}-byte message`,
  };
}

/** The baseline target alone (a health Check on the gRPC port), for a part that runs without the unary table. */
export function measureBaseline(ctx: BenchContext, service: Servers["service"]): Promise<ResultRow> {
  const target: UnaryTarget = {
    key: "baseline",
    label: "Health/Check, gRPC port (baseline)",
    port: service.grpcPort,
    pid: service.child.pid,
    path: HEALTH_CHECK,
    body: frame(healthCheckBody),
    response: HealthCheckResponseSchema,
  };
  return ctx.quiet.measure(() => measure(ctx, target));
}
