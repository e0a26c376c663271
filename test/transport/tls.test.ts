import { connect as tlsConnect } from "node:tls";
import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { startServer, type RunningServer } from "../e2e/server.js";
import { makeTestCerts, type TestCerts } from "../support/certs.js";

type ClientPair = { cert: Buffer; key: Buffer } | undefined;
const WAYS = ["grpc-port/grpc", "connect-port/grpc", "connect-port/connect", "connect-port/grpc-web"] as const;

let certs: TestCerts;
beforeAll(() => {
  certs = makeTestCerts();
});
afterAll(() => certs?.remove());

/** A client of one way in, over TLS, trusting the test CA and presenting `pair` when given. */
function transport(server: RunningServer, way: (typeof WAYS)[number], pair: ClientPair): Transport {
  const tls = { ca: certs.ca, ...(pair ?? {}) };
  const port = way === "grpc-port/grpc" ? server.grpcPort : server.connectPort;
  const baseUrl = `https://localhost:${port}`;
  switch (way) {
    case "grpc-port/grpc":
    case "connect-port/grpc":
      return createGrpcTransport({ baseUrl, nodeOptions: tls });
    case "connect-port/connect":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: tls });
    case "connect-port/grpc-web":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions: tls });
  }
}

async function check(server: RunningServer, way: (typeof WAYS)[number], pair: ClientPair): Promise<HealthCheckResponse_ServingStatus> {
  return (await createClient(Health, transport(server, way, pair)).check({})).status;
}

/**
 * A bare TLS connection that sends an HTTP/2 preface and settles on what
 * happens first: the server's first bytes ("answered") or the connection
 * failing (its error code).
 */
function rawHandshake(port: number, pair: ClientPair): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: "127.0.0.1", servername: "localhost", port, ca: certs.ca, ALPNProtocols: ["h2"], ...(pair ?? {}) });
    socket.once("secureConnect", () => socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"));
    socket.once("data", () => {
      socket.destroy();
      resolve("answered");
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    socket.once("close", () => resolve("closed"));
  });
}

describe("TLS", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ TLS_CERT: certs.serverCertPath, TLS_KEY: certs.serverKeyPath });
  });
  afterAll(() => server.stop());

  it.each(WAYS)("serves %s over TLS", async (way) => {
    expect(await check(server, way, undefined)).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it.each(["grpc", "connect"] as const)("does not speak cleartext on the %s port", async (port) => {
    const url = port === "grpc" ? server.grpcUrl : server.connectUrl;
    await expect(createClient(Health, createGrpcTransport({ baseUrl: url })).check({})).rejects.toBeInstanceOf(ConnectError);
  });
});

describe("mutual TLS", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ TLS_CERT: certs.serverCertPath, TLS_KEY: certs.serverKeyPath, TLS_CLIENT_CA: certs.caPath });
  });
  afterAll(() => server.stop());

  it.each(WAYS)("serves %s to a client with a certificate of the CA", async (way) => {
    expect(await check(server, way, certs.client)).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it.each(WAYS)("refuses %s to a client without a certificate, or with a foreign one", async (way) => {
    for (const pair of [undefined, certs.foreign]) {
      await expect(check(server, way, pair)).rejects.toBeInstanceOf(ConnectError);
    }
  });

  it.each(["grpc", "connect"] as const)("ends the handshake on the %s port before any HTTP/2 is spoken", async (port) => {
    const number = port === "grpc" ? server.grpcPort : server.connectPort;
    expect(await rawHandshake(number, certs.client)).toBe("answered");
    expect(await rawHandshake(number, undefined)).toBe("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
    // TLS 1.3: the client's side of the handshake is done before the server has judged its certificate; it sees the close.
    expect(await rawHandshake(number, certs.foreign)).toMatch(/^(ERR_SSL_TLSV13_ALERT_UNKNOWN_CA|ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ECONNRESET|closed)$/);
  });
});
