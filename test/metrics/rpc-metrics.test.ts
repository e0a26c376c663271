import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { startServer, type RunningServer } from "../e2e/server.js";
import { uniqueId } from "../support/redis.js";
import { envelope, rawGrpcCall } from "../support/raw-wire.js";
import { scrape, type Scrape } from "./prom-text.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ METRICS_PORT: "0" });
});
afterAll(async () => {
  await server?.stop();
});

const read = (): Promise<Scrape> => scrape(server.metricsUrl!);
const join = (transport: "grpc" | "connect", extra: Record<string, string> = {}) => ({
  grpc_service: "boxoffice.v1.QueueService",
  grpc_method: "Join",
  grpc_type: "unary",
  transport,
  ...extra,
});

async function code(promise: Promise<unknown>): Promise<Code> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err).code;
  }
  throw new Error("expected the call to fail");
}

describe("grpc_server_* metrics", () => {
  it("count calls per method and port, with each call's code, latency and messages", async () => {
    const eventId = uniqueId();
    const grpc = server.client(QueueService, server.transports["grpc-port/grpc"]);
    const connect = server.client(QueueService, server.transports["connect-port/connect"]);
    const connectGrpc = server.client(QueueService, server.transports["connect-port/grpc"]);
    const before = await read();

    await grpc.configureQueue({ eventId });
    await grpc.join({ eventId, userId: "ann" });
    await grpc.join({ eventId, userId: "bob" });
    await connect.join({ eventId, userId: "cid" });
    await connectGrpc.join({ eventId, userId: "dan" });
    // Refused by validation before the handler, and by the implementation.
    expect(await code(grpc.join({ eventId: "no spaces allowed", userId: "eve" }))).toBe(Code.InvalidArgument);
    expect(await code(connect.join({ eventId: uniqueId(), userId: "fay" }))).toBe(Code.NotFound);

    const after = await read();
    const delta = (name: string, labels: Record<string, string>): number => after.sum(name, labels) - before.sum(name, labels);

    expect(delta("grpc_server_started_total", join("grpc"))).toBe(3);
    expect(delta("grpc_server_started_total", join("connect"))).toBe(3);
    expect(delta("grpc_server_handled_total", join("grpc", { grpc_code: "OK" }))).toBe(2);
    expect(delta("grpc_server_handled_total", join("grpc", { grpc_code: "INVALID_ARGUMENT" }))).toBe(1);
    expect(delta("grpc_server_handled_total", join("connect", { grpc_code: "OK" }))).toBe(2);
    expect(delta("grpc_server_handled_total", join("connect", { grpc_code: "NOT_FOUND" }))).toBe(1);
    expect(after.value("grpc_server_handled_total", join("grpc", { grpc_code: "NOT_FOUND" }))).toBeUndefined();
    expect(delta("grpc_server_handling_seconds_count", join("grpc"))).toBe(3);
    expect(delta("grpc_server_handling_seconds_bucket", join("connect", { le: "+Inf" }))).toBe(3);
    expect(after.value("grpc_server_handling_seconds_sum", join("grpc"))).toBeGreaterThan(0);
    expect(delta("grpc_server_msg_received_total", join("grpc"))).toBe(3);
    // Only the successful calls answered with a message.
    expect(delta("grpc_server_msg_sent_total", join("grpc"))).toBe(2);

    // Buckets are cumulative and end at the count.
    const buckets = after.find("grpc_server_handling_seconds_bucket", join("grpc"));
    const values = buckets.map((b) => b.value);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(buckets.at(-1)?.labels["le"]).toBe("+Inf");
    expect(buckets.at(-1)?.value).toBe(after.value("grpc_server_handling_seconds_count", join("grpc")));
  });

  it("count server streams and each message they send", async () => {
    const eventId = uniqueId();
    const client = server.client(QueueService, server.transports["connect-port/grpc"]);
    await client.configureQueue({ eventId });
    await client.join({ eventId, userId: "u" });
    const watch = { grpc_service: "boxoffice.v1.QueueService", grpc_method: "WatchPosition", grpc_type: "server_stream", transport: "connect" };
    const before = await read();
    const controller = new AbortController();
    const stream = client.watchPosition({ eventId, userId: "u" }, { signal: controller.signal })[Symbol.asyncIterator]();
    try {
      expect((await stream.next()).done).toBe(false);
      const during = await read();
      expect(during.sum("grpc_server_started_total", watch) - before.sum("grpc_server_started_total", watch)).toBe(1);
      expect(during.sum("grpc_server_msg_sent_total", watch) - before.sum("grpc_server_msg_sent_total", watch)).toBe(1);
      expect(during.sum("grpc_server_msg_received_total", watch) - before.sum("grpc_server_msg_received_total", watch)).toBe(1);
    } finally {
      controller.abort();
      await stream.return?.();
    }
  });

  it("count calls refused as malformed before any handler, on both ports", async () => {
    const before = await read();
    const grpcStatus = await rawGrpcCall(server.grpcUrl, "/boxoffice.v1.QueueService/Join", { "content-type": "application/grpc" }, envelope(new Uint8Array([0xff, 0xff, 0xff])));
    expect(grpcStatus.code).toBe(Code.InvalidArgument);
    const response = await fetch(`${server.connectUrl}/boxoffice.v1.QueueService/Join`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{ not json",
    });
    expect(response.status).toBe(400);
    const after = await read();
    for (const transport of ["grpc", "connect"] as const) {
      const labels = join(transport, { grpc_code: "INVALID_ARGUMENT" });
      expect(after.sum("grpc_server_handled_total", labels) - before.sum("grpc_server_handled_total", labels)).toBe(1);
      expect(after.sum("grpc_server_started_total", join(transport)) - before.sum("grpc_server_started_total", join(transport))).toBe(1);
    }
  });

  it("export the process's own metrics, event-loop lag included, and answer only /metrics", async () => {
    const names = (await read()).names();
    for (const name of ["process_cpu_user_seconds_total", "process_resident_memory_bytes", "nodejs_heap_size_used_bytes", "nodejs_eventloop_lag_p99_seconds"]) {
      expect(names, name).toContain(name);
    }
    expect((await fetch(server.metricsUrl!.replace("/metrics", "/other"))).status).toBe(404);
  });
});

describe("grpc_server_* metrics with authentication", () => {
  it("count calls refused for their credentials, with UNAUTHENTICATED and PERMISSION_DENIED", async () => {
    const token = `client-${uniqueId()}`;
    const secured = await startServer({ METRICS_PORT: "0", AUTH_TOKENS: `client:${token}` });
    try {
      const anonymous = secured.client(QueueService, secured.transports["grpc-port/grpc"]);
      const client = createClient(QueueService, createGrpcTransport({ baseUrl: secured.connectUrl, interceptors: [bearer(token)] }));
      expect(await code(anonymous.join({ eventId: uniqueId(), userId: "u" }))).toBe(Code.Unauthenticated);
      expect(await code(client.configureQueue({ eventId: uniqueId() }))).toBe(Code.PermissionDenied);
      const metrics = await scrape(secured.metricsUrl!);
      expect(metrics.value("grpc_server_handled_total", join("grpc", { grpc_code: "UNAUTHENTICATED" }))).toBe(1);
      const configure = { ...join("connect", { grpc_code: "PERMISSION_DENIED" }), grpc_method: "ConfigureQueue" };
      expect(metrics.value("grpc_server_handled_total", configure)).toBe(1);
    } finally {
      await secured.stop();
    }
  });
});

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}
