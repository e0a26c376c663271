import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { createHealthService } from "../../src/health/health-service.js";
import { HealthStatus, ServingStatus } from "../../src/health/health-status.js";

/** Health over a real HTTP/2 port with a gRPC client, one server per test. */

const QUEUE = "boxoffice.v1.QueueService";

interface Running {
  health: HealthStatus;
  shutdown: AbortController;
  client: Client<typeof Health>;
  close(): Promise<void>;
}

const running: Running[] = [];

async function start(): Promise<Running> {
  const health = new HealthStatus({ "": ServingStatus.SERVING, [QUEUE]: ServingStatus.SERVING });
  const shutdown = new AbortController();
  const { service, impl } = createHealthService(health);
  const server = http2.createServer(
    connectNodeAdapter({ routes: (router) => router.service(service, impl), shutdownSignal: shutdown.signal }),
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const client = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  const close = async (): Promise<void> => {
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  };
  const instance = { health, shutdown, client, close };
  running.push(instance);
  return instance;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

/** Resolves once the service's Watch stops listening to `health`. */
function unsubscribed(health: HealthStatus): Promise<void> {
  const subscribe = health.subscribe.bind(health);
  return new Promise((resolve) => {
    vi.spyOn(health, "subscribe").mockImplementation((name, listener) => {
      const off = subscribe(name, listener);
      return () => {
        off();
        resolve();
      };
    });
  });
}

const failure = (promise: Promise<unknown>): Promise<ConnectError | undefined> =>
  promise.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );

describe("grpc.health.v1.Health over gRPC", () => {
  it("answers Check, and NOT_FOUND for an unknown service", async () => {
    const { client, health } = await start();
    expect((await client.check({ service: QUEUE })).status).toBe(ServingStatus.SERVING);
    health.set(QUEUE, ServingStatus.NOT_SERVING);
    expect((await client.check({ service: QUEUE })).status).toBe(ServingStatus.NOT_SERVING);
    expect((await failure(client.check({ service: "no.such.Service" })))?.code).toBe(Code.NotFound);
  });

  it("streams a change to a watcher after set()", async () => {
    const { client, health } = await start();
    const stream = client.watch({ service: QUEUE })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
    health.set(QUEUE, ServingStatus.NOT_SERVING);
    expect((await stream.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    await stream.return?.();
  });

  it("ends Watch with UNAVAILABLE when the server shuts down", async () => {
    const { client, health, shutdown } = await start();
    const stopped = unsubscribed(health);
    const stream = client.watch({ service: "" })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);

    shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
    const error = await failure(stream.next());
    expect(error?.code).toBe(Code.Unavailable);
    await stopped;
  });

  it("stops listening on the server when the client cancels Watch", async () => {
    const { client, health } = await start();
    const stopped = unsubscribed(health);
    const cancel = new AbortController();
    const stream = client.watch({ service: "" }, { signal: cancel.signal })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
    // The client reads nothing more; the server must notice on its own.
    cancel.abort();
    await stopped;
  });
});
