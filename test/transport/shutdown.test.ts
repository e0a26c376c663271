import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import type { ServiceRegistration } from "../../src/rpc/registration.js";
import { createConnectServer } from "../../src/transport/connect-server.js";
import { createGrpcServer } from "../../src/transport/grpc-server.js";
import type { TransportServer } from "../../src/transport/transport-server.js";
import { Probe, ServingStatus } from "./support/probe.js";

interface Case {
  name: string;
  server(registrations: ServiceRegistration[]): TransportServer;
  transport(baseUrl: string): Transport;
}

const cases: Case[] = [
  {
    name: "grpc-js server, gRPC client",
    server: (r) => createGrpcServer(r),
    transport: (baseUrl) => createGrpcTransport({ baseUrl }),
  },
  {
    name: "connect-node server, gRPC client over h2c",
    server: (r) => createConnectServer(r),
    transport: (baseUrl) => createGrpcTransport({ baseUrl }),
  },
  {
    name: "connect-node server, Connect JSON client over HTTP/1.1",
    server: (r) => createConnectServer(r),
    transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  },
  {
    name: "connect-node server, gRPC-Web client over HTTP/1.1",
    server: (r) => createConnectServer(r),
    transport: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  },
];

describe.each(cases)("shutdown: $name", ({ server, transport }) => {
  async function start(): Promise<{ probe: Probe; srv: TransportServer; health: ReturnType<typeof createClient<typeof Health>> }> {
    const probe = new Probe();
    const srv = server(probe.registrations());
    const port = await srv.listen(0, "127.0.0.1");
    return { probe, srv, health: createClient(Health, transport(`http://127.0.0.1:${port}`)) };
  }

  it("ends an open stream with UNAVAILABLE while an in-flight unary call completes", async () => {
    const { probe, srv, health } = await start();
    const stream = health.watch({ service: "forever:s1" })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
    const unary = health.check({ service: "slow:u1" });
    const unaryCtx = await probe.trace("u1").started.promise;

    const stopped = srv.shutdown(10_000);

    const streamError = await stream.next().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(streamError?.code).toBe(Code.Unavailable);
    expect(streamError?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("SHUTTING_DOWN");
    const streamReason = await probe.trace("s1").ended.promise;
    expect(streamReason).toBeInstanceOf(ConnectError);
    expect(ConnectError.from(streamReason).code).toBe(Code.Unavailable);
    expect(unaryCtx.signal.aborted).toBe(false);

    probe.trace("u1").release.resolve();
    expect((await unary).status).toBe(ServingStatus.NOT_SERVING);
    await stopped;
  });

  it("aborts calls still running when the grace period ends, with UNAVAILABLE", async () => {
    const { probe, srv, health } = await start();
    const unary = health.check({ service: "hang:u2" });
    const outcome = unary.then(
      () => "answered",
      (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0]?.reason ?? "failed without ErrorInfo",
    );
    await probe.trace("u2").started.promise;

    await srv.shutdown(100);

    const reason = await probe.trace("u2").ended.promise;
    expect(ConnectError.from(reason).code).toBe(Code.Unavailable);
    expect(await outcome).toBe("SHUTTING_DOWN");
  });
});
