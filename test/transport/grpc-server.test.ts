import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import {
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "../../gen/grpc/health/v1/health_pb.js";
import { createGrpcServer } from "../../src/transport/grpc-server.js";
import type { TransportServer } from "../../src/transport/transport-server.js";
import { transportContract } from "./support/contract.js";
import { Probe, ServingStatus } from "./support/probe.js";

transportContract("grpc-js server, connect-node gRPC client", {
  server: (probe) => createGrpcServer(probe.registrations()),
  transport: (baseUrl) => createGrpcTransport({ baseUrl }),
  cancelReason: Code.Canceled,
  requestStreaming: true,
  deadlineHeader: (ms) => ({ "grpc-timeout": `${ms}m` }),
});

describe("grpc-js server, @grpc/grpc-js client", () => {
  let probe: Probe;
  let server: TransportServer;
  let client: grpc.Client;

  beforeEach(async () => {
    probe = new Probe();
    server = createGrpcServer(probe.registrations());
    const port = await server.listen(0, "127.0.0.1");
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  afterEach(async () => {
    client.close();
    await server.shutdown(1_000);
  });

  function check(
    service: string,
    metadata = new grpc.Metadata(),
  ): Promise<{ err: grpc.ServiceError | null; res?: HealthCheckResponse; header?: grpc.Metadata }> {
    return new Promise((resolve) => {
      let header: grpc.Metadata | undefined;
      const call = client.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        (req: HealthCheckRequest) => Buffer.from(toBinary(HealthCheckRequestSchema, req)),
        (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes),
        create(HealthCheckRequestSchema, { service }),
        metadata,
        (err, res) => resolve({ err, res, header }),
      );
      call.on("metadata", (m: grpc.Metadata) => (header = m));
    });
  }

  it("answers a unary call", async () => {
    const { err, res } = await check("ok:g1");
    expect(err).toBeNull();
    expect(res?.status).toBe(ServingStatus.SERVING);
  });

  it("sends the status code and a decodable grpc-status-details-bin", async () => {
    const { err } = await check("error:g2");
    expect(err?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err?.details).toBe("sold out");
    expect(err?.metadata.get("x-error-meta")).toEqual(["present"]);
    const [bin] = err?.metadata.get("grpc-status-details-bin") ?? [];
    expect(bin).toBeInstanceOf(Buffer);
    const status = fromBinary(StatusSchema, bin as Buffer);
    expect(status.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(status.message).toBe("sold out");
    expect(status.details).toHaveLength(1);
    expect(status.details[0]?.typeUrl).toBe("type.googleapis.com/google.rpc.ErrorInfo");
    const info = status.details[0] && anyUnpack(status.details[0], ErrorInfoSchema);
    expect(info?.reason).toBe("SOLD_OUT");
    expect(info?.domain).toBe("boxoffice.v1");
  });

  it("maps a non-ConnectError to INTERNAL", async () => {
    const { err } = await check("bug:g3");
    expect(err?.code).toBe(grpc.status.INTERNAL);
    expect(err?.details).not.toContain("secret");
  });

  it("shows binary request metadata base64-encoded and sends binary response headers back as bytes", async () => {
    const metadata = new grpc.Metadata();
    metadata.set("x-probe", "plain");
    metadata.set("x-probe-bin", Buffer.from([0, 1, 2, 250]));
    const { err, header } = await check("headers:g4", metadata);
    expect(err).toBeNull();
    const ctx = await probe.trace("g4").started.promise;
    expect(ctx.requestHeader.get("x-probe")).toBe("plain");
    expect(Buffer.from(ctx.requestHeader.get("x-probe-bin") ?? "", "base64")).toEqual(Buffer.from([0, 1, 2, 250]));
    expect(header?.get("x-echo")).toEqual(["plain"]);
    expect(header?.get("x-echo-bin")).toEqual([Buffer.from([0, 1, 2, 250])]);
  });
});
