import { Code } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import http from "node:http";
import http2 from "node:http2";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createConnectServer } from "../../src/transport/connect-server.js";
import type { TransportServer } from "../../src/transport/transport-server.js";
import { transportContract } from "./support/contract.js";
import { Probe } from "./support/probe.js";

const grpcTimeout = (ms: number) => ({ "grpc-timeout": `${ms}m` });
const connectTimeout = (ms: number) => ({ "connect-timeout-ms": String(ms) });

const server = (probe: Probe): TransportServer => createConnectServer(probe.registrations());

transportContract("connect-node server, gRPC over h2c", {
  server,
  transport: (baseUrl) => createGrpcTransport({ baseUrl }),
  cancelReason: Code.Canceled,
  requestStreaming: true,
  deadlineHeader: grpcTimeout,
});

transportContract("connect-node server, Connect JSON over HTTP/1.1", {
  server,
  transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  // HTTP/1.1 has no cancel code: connect-node sees the connection close.
  cancelReason: undefined,
  requestStreaming: false,
  deadlineHeader: connectTimeout,
});

transportContract("connect-node server, Connect binary over h2c", {
  server,
  transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2" }),
  cancelReason: Code.Canceled,
  requestStreaming: true,
  deadlineHeader: connectTimeout,
});

transportContract("connect-node server, gRPC-Web over HTTP/1.1", {
  server,
  transport: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  cancelReason: undefined,
  requestStreaming: false,
  deadlineHeader: grpcTimeout,
});

describe("connect-node server, plain HTTP clients", () => {
  let probe: Probe;
  let connect: TransportServer;
  let port: number;

  beforeEach(async () => {
    probe = new Probe();
    connect = server(probe);
    port = await connect.listen(0, "127.0.0.1");
  });

  afterEach(async () => {
    await connect.shutdown(1_000);
  });

  it("answers curl-style JSON over HTTP/1.1", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ service: "ok:f1" }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "SERVING" });
    const ctx = await probe.trace("f1").started.promise;
    expect(ctx.protocolName).toBe("connect");
  });

  it("answers errors as Connect JSON with the ErrorInfo detail", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ service: "error:f2" }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string; details: { type: string }[] };
    expect(body.code).toBe("failed_precondition");
    expect(body.message).toBe("sold out");
    expect(body.details.map((d) => d.type)).toEqual(["google.rpc.ErrorInfo"]);
  });

  it("serves HTTP/1.1 and HTTP/2 on the same port", async () => {
    const h1Version = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, method: "POST", path: "/grpc.health.v1.Health/Check" },
        (res) => {
          res.resume();
          res.on("end", () => resolve(`${res.httpVersion} ${res.statusCode}`));
        },
      );
      req.setHeader("content-type", "application/json");
      req.on("error", reject);
      req.end(JSON.stringify({ service: "ok:f3" }));
    });
    expect(h1Version).toBe("1.1 200");

    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const h2Status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/grpc.health.v1.Health/Check",
          "content-type": "application/json",
        });
        stream.on("response", (headers) => resolve(Number(headers[":status"])));
        stream.on("error", reject);
        stream.end(JSON.stringify({ service: "ok:f4" }));
        stream.resume();
      });
      expect(h2Status).toBe(200);
    } finally {
      session.close();
    }
  });
});
