import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeFeedService, SubscribeStart } from "../../gen/boxoffice/v1/feed_pb.js";
import { QueueService, QueueState } from "../../gen/boxoffice/v1/queue_pb.js";
import { loadConfig } from "../../src/config.js";
import { startTracing, type Tracing } from "../../src/observe/otel-sdk.js";
import { traceRpcCalls } from "../../src/observe/rpc-tracing.js";
import { appendJoins } from "../feed/support.js";
import { scrape } from "../metrics/prom-text.js";
import { envelope, rawGrpcCall } from "../support/raw-wire.js";
import { uniqueId } from "../support/redis.js";
import { SpanSink, traceparent } from "../support/span-sink.js";
import { startServer, type RunningServer } from "./server.js";

// Each test file runs in a process of its own (vitest's forks pool isolates files), so the
// SDK registered globally here meets no other file's.
const sink = new SpanSink();
let tracing: Tracing;
let server: RunningServer;

beforeAll(async () => {
  tracing = startTracing(
    loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }).traces!,
    { logger: pino({ level: "silent" }), spanProcessor: sink.processor },
  );
  server = await startServer({}, { rpcObserver: tracing.rpc, scriptObserver: tracing.scripts });
});

afterAll(async () => {
  await server?.stop();
  await tracing?.shutdown();
});

const inTrace = (traceId: string) => (span: ReadableSpan) => span.spanContext().traceId === traceId;
const childrenOf = (parent: ReadableSpan) => (span: ReadableSpan) =>
  span.parentSpanContext?.spanId === parent.spanContext().spanId && span.spanContext().traceId === parent.spanContext().traceId;

/** Each transport, the `rpc.system` its calls are recorded with. */
const TRANSPORTS = [
  ["grpc-port/grpc", "grpc"],
  ["connect-port/grpc", "grpc"],
  ["connect-port/connect", "connect_rpc"],
  ["connect-port/grpc-web", "grpc"],
] as const;

describe.each(TRANSPORTS)("over %s", (transport, system) => {
  it("makes a server span per call, child of the caller's traceparent, with the script spans as its children", async () => {
    const client = createClient(QueueService, server.transports[transport]);
    const eventId = uniqueId();
    const parent = traceparent();
    const requestId = `traces-${transport.replace("/", "_")}`;
    const headers = { traceparent: parent.header, "x-request-id": requestId };
    await client.configureQueue({ eventId, state: QueueState.PAUSED }, { headers });
    await client.join({ eventId, userId: "u" }, { headers });
    await tracing.flush();

    const calls = sink.spans(inTrace(parent.traceId)).filter((s) => s.kind === SpanKind.SERVER);
    expect(calls.map((s) => s.name).sort()).toEqual(["boxoffice.v1.QueueService/ConfigureQueue", "boxoffice.v1.QueueService/Join"]);
    const join = calls.find((s) => s.name === "boxoffice.v1.QueueService/Join")!;
    expect(join.parentSpanContext?.spanId).toBe(parent.spanId);
    expect(join.parentSpanContext?.isRemote).toBe(true);
    expect(join.status.code).toBe(SpanStatusCode.UNSET);
    expect(join.attributes).toEqual({
      "rpc.system": system,
      "rpc.service": "boxoffice.v1.QueueService",
      "rpc.method": "Join",
      "rpc.grpc.status_code": 0,
      "boxoffice.request_id": requestId,
      "boxoffice.event_id": eventId,
    });

    const scripts = sink.spans(childrenOf(join));
    expect(scripts.map((s) => s.name)).toEqual(["FCALL joinQueue"]);
    expect(scripts[0]!.kind).toBe(SpanKind.CLIENT);
    expect(scripts[0]!.status.code).toBe(SpanStatusCode.UNSET);
    expect(scripts[0]!.attributes).toMatchObject({
      "db.system": "redis",
      "db.system.name": "redis",
      "db.operation.name": "FCALL",
      "boxoffice.script": "joinQueue",
    });
    expect(scripts[0]!.attributes["db.stored_procedure.name"]).toMatch(/^joinQueue_[0-9a-f]{12}$/);
    // ConfigureQueue queues its script on a pipeline: a span all the same.
    const configure = calls.find((s) => s.name === "boxoffice.v1.QueueService/ConfigureQueue")!;
    expect(sink.spans(childrenOf(configure)).map((s) => s.name)).toEqual(["FCALL configureQueue"]);
  });

  it("marks a refused call as an error with its code, and an invalid one never reaches Redis", async () => {
    const client = createClient(QueueService, server.transports[transport]);
    const unknown = traceparent();
    const eventId = uniqueId();
    await expect(client.getPosition({ eventId, userId: "u" }, { headers: { traceparent: unknown.header } })).rejects.toSatisfy(
      (err) => ConnectError.from(err).code === Code.NotFound,
    );
    const invalid = traceparent();
    await expect(client.join({ eventId: "-not an id", userId: "u" }, { headers: { traceparent: invalid.header } })).rejects.toSatisfy(
      (err) => ConnectError.from(err).code === Code.InvalidArgument,
    );
    await tracing.flush();

    const [notFound, ...others] = sink.spans(inTrace(unknown.traceId)).filter((s) => s.kind === SpanKind.SERVER);
    expect(others).toEqual([]);
    expect(notFound!.name).toBe("boxoffice.v1.QueueService/GetPosition");
    expect(notFound!.status).toEqual({ code: SpanStatusCode.ERROR, message: `event ${eventId} has no queue` });
    expect(notFound!.attributes["rpc.grpc.status_code"]).toBe(Code.NotFound);
    // The script answered; the outcome is the service's to judge.
    const scripts = sink.spans(childrenOf(notFound!));
    expect(scripts.map((s) => [s.name, s.status.code])).toEqual([["FCALL getPosition", SpanStatusCode.UNSET]]);

    const spans = sink.spans(inTrace(invalid.traceId));
    expect(spans.map((s) => s.name)).toEqual(["boxoffice.v1.QueueService/Join"]);
    expect(spans[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(spans[0]!.attributes["rpc.grpc.status_code"]).toBe(Code.InvalidArgument);
    // Not a well-formed event id: not recorded.
    expect(spans[0]!.attributes["boxoffice.event_id"]).toBeUndefined();
  });

  it("makes one span for a stream's whole life, ended with the code it ended with", async () => {
    const client = createClient(QueueService, server.transports[transport]);
    const eventId = uniqueId();
    await client.configureQueue({ eventId, state: QueueState.PAUSED });
    await client.join({ eventId, userId: "u" });
    const parent = traceparent();
    const controller = new AbortController();
    const stream = client.watchPosition({ eventId, userId: "u" }, { headers: { traceparent: parent.header }, signal: controller.signal });
    const first = await stream[Symbol.asyncIterator]().next();
    expect(first.value?.ticket?.position).toBe(1);
    await tracing.flush();
    // Still open: no span yet.
    expect(sink.spans(inTrace(parent.traceId)).filter((s) => s.kind === SpanKind.SERVER)).toEqual([]);

    controller.abort();
    const span = await sink.next((s) => inTrace(parent.traceId)(s) && s.kind === SpanKind.SERVER);
    expect(span.name).toBe("boxoffice.v1.QueueService/WatchPosition");
    expect(span.parentSpanContext?.spanId).toBe(parent.spanId);
    expect(span.attributes).toMatchObject({ "rpc.method": "WatchPosition", "rpc.grpc.status_code": Code.Canceled, "boxoffice.event_id": eventId });
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
  });
});

it("starts a trace of its own for a call without traceparent", async () => {
  const client = createClient(QueueService, server.transports["grpc-port/grpc"]);
  const requestId = uniqueId("req");
  await client.configureQueue({ eventId: uniqueId() }, { headers: { "x-request-id": requestId } });
  await tracing.flush();
  const [span, ...others] = sink.spans((s) => s.attributes["boxoffice.request_id"] === requestId);
  expect(others).toEqual([]);
  expect(span!.parentSpanContext).toBeUndefined();
  expect(span!.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(span!.resource.attributes["service.name"]).toBe("boxoffice");
  expect(sink.spans(childrenOf(span!)).map((s) => s.name)).toEqual(["FCALL configureQueue"]);
});

it("gives a stream's own script calls spans up to its budget, and counts the rest on its span", async () => {
  // The provider registered above; a stream may make one script span here.
  const rpcObserver = traceRpcCalls(trace.getTracer("budget-test"), { streamScriptSpans: 1 });
  const small = await startServer({}, { rpcObserver, scriptObserver: tracing.scripts });
  try {
    const eventId = uniqueId();
    await appendJoins(small, eventId, 3);
    const parent = traceparent();
    const controller = new AbortController();
    const stream = createClient(ChangeFeedService, small.transports["grpc-port/grpc"]).subscribe(
      { eventId, group: "g", consumer: "c", start: SubscribeStart.BEGINNING },
      { headers: { traceparent: parent.header }, signal: controller.signal },
    );
    // Delivered: the group was opened (one script) and a delivery step ran (another).
    expect((await stream[Symbol.asyncIterator]().next()).value?.events).toHaveLength(3);
    controller.abort();
    const span = await sink.next((s) => inTrace(parent.traceId)(s) && s.kind === SpanKind.SERVER);
    expect(span.name).toBe("boxoffice.v1.ChangeFeedService/Subscribe");
    expect(sink.spans(childrenOf(span)).map((s) => s.name)).toEqual(["FCALL openFeedGroup"]);
    expect(span.attributes["boxoffice.script_spans_dropped"]).toBeGreaterThanOrEqual(1);
  } finally {
    await small.stop();
  }
});

it("makes no script spans for the watch loops a stream starts: they serve every stream of the event", async () => {
  const client = createClient(QueueService, server.transports["grpc-port/grpc"]);
  const eventId = uniqueId();
  await client.configureQueue({ eventId, state: QueueState.PAUSED });
  await client.join({ eventId, userId: "u" });
  const parent = traceparent();
  const controller = new AbortController();
  const stream = client.watchPosition({ eventId, userId: "u" }, { headers: { traceparent: parent.header }, signal: controller.signal });
  // The first position comes from the event's loop, started by this stream, after its watchTick script.
  expect((await stream[Symbol.asyncIterator]().next()).value?.ticket?.position).toBe(1);
  controller.abort();
  const span = await sink.next((s) => inTrace(parent.traceId)(s) && s.kind === SpanKind.SERVER);
  await server.app.hub.stopped(eventId);
  await tracing.flush();
  expect(sink.spans(inTrace(parent.traceId))).toEqual([span]);
});

it("shares its hooks with the metrics: a call is a span and a count, a call refused before its handler only a count", async () => {
  // The test server runs with metrics on (METRICS_PORT=0), so both observe every call, composed.
  const client = createClient(QueueService, server.transports["grpc-port/grpc"]);
  const eventId = uniqueId();
  await client.configureQueue({ eventId, state: QueueState.PAUSED });
  const join = { grpc_service: "boxoffice.v1.QueueService", grpc_method: "Join", grpc_type: "unary", transport: "grpc" };
  const before = await scrape(server.metricsUrl!);

  const parent = traceparent();
  await client.join({ eventId, userId: "u" }, { headers: { traceparent: parent.header } });
  const refused = traceparent();
  const status = await rawGrpcCall(
    server.grpcUrl,
    "/boxoffice.v1.QueueService/Join",
    { "content-type": "application/grpc", traceparent: refused.header },
    envelope(new Uint8Array([0xff, 0xff, 0xff])),
  );
  expect(status.code).toBe(Code.InvalidArgument);
  await tracing.flush();

  const after = await scrape(server.metricsUrl!);
  const delta = (name: string, labels: Record<string, string>) => after.sum(name, labels) - before.sum(name, labels);
  expect(delta("grpc_server_handled_total", { ...join, grpc_code: "OK" })).toBe(1);
  expect(delta("grpc_server_handled_total", { ...join, grpc_code: "INVALID_ARGUMENT" })).toBe(1);
  expect(delta("boxoffice_redis_script_seconds_count", { script: "joinQueue" })).toBe(1);
  const spans = sink.spans(inTrace(parent.traceId));
  expect(spans.map((s) => s.name).sort()).toEqual(["FCALL joinQueue", "boxoffice.v1.QueueService/Join"]);
  expect(sink.spans(inTrace(refused.traceId))).toEqual([]);
});
