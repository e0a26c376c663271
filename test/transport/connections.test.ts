import { once } from "node:events";
import http2 from "node:http2";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { createConnectServer } from "../../src/transport/connect-server.js";
import { createGrpcServer } from "../../src/transport/grpc-server.js";
import type { TransportServer } from "../../src/transport/transport-server.js";
import { Probe } from "./support/probe.js";

async function withServer(server: TransportServer, run: (port: number) => Promise<void>): Promise<void> {
  const port = await server.listen(0, "127.0.0.1");
  try {
    await run(port);
  } finally {
    await server.shutdown(1_000);
  }
}

describe.each([
  { name: "grpc-js server", build: () => createGrpcServer(new Probe().registrations(), { keepaliveTimeMs: 20 }) },
  { name: "connect-node server", build: () => createConnectServer(new Probe().registrations(), { keepaliveTimeMs: 20 }) },
])("keepalive: $name", ({ build }) => {
  it("pings an idle HTTP/2 connection", async () => {
    await withServer(build(), async (port) => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      try {
        await once(session, "ping");
      } finally {
        session.destroy();
      }
    });
  });
});

describe("connect-node server connections", () => {
  it("drops a connection that sends nothing within the first-byte timeout", async () => {
    const server = createConnectServer(new Probe().registrations(), { firstByteTimeoutMs: 50 });
    await withServer(server, async (port) => {
      const socket = net.connect(port, "127.0.0.1");
      await once(socket, "connect");
      const [hadError] = (await once(socket, "close")) as [boolean];
      expect(hadError).toBe(false);
    });
  });

  it("lets HTTP/2 connections finish their streams after shutdown starts, then closes them", async () => {
    const probe = new Probe();
    const server = createConnectServer(probe.registrations());
    const port = await server.listen(0, "127.0.0.1");
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const goaway = once(session, "goaway");
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/json",
    });
    stream.end(JSON.stringify({ service: "slow:k1" }));
    await probe.trace("k1").started.promise;
    const stopped = server.shutdown(10_000);
    await goaway;
    probe.trace("k1").release.resolve();
    const [headers] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
    expect(headers[":status"]).toBe(200);
    stream.resume();
    await once(stream, "end");
    await stopped;
    session.destroy();
  });
});
