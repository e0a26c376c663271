import { once } from "node:events";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { bufCurl, spawnBufCurl } from "../support/buf-curl.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

/**
 * What an operator does with nothing but buf curl and the server's own
 * reflection: no proto files, against both ports of the real app.
 */

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

const SERVICES = [
  "boxoffice.v1.ChangeFeedService",
  "boxoffice.v1.QueueService",
  "boxoffice.v1.SeatService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

const ports = () =>
  [
    { name: "gRPC port", url: server.grpcUrl, protocol: "grpc" },
    { name: "Connect port (gRPC)", url: server.connectUrl, protocol: "grpc" },
    { name: "Connect port (Connect)", url: server.connectUrl, protocol: "connect" },
  ] as const;

describe.each([0, 1, 2])("buf curl, target %i", (index) => {
  const target = () => ports()[index] as ReturnType<typeof ports>[number];
  const flags = () => ["--protocol", target().protocol, "--http2-prior-knowledge"];

  it.each(["grpc-v1", "grpc-v1alpha"])("lists the services through %s reflection", async (reflect) => {
    const result = await bufCurl(...flags(), "--reflect-protocol", reflect, "--list-services", target().url);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.trim().split("\n").sort()).toEqual(SERVICES);
  });

  it("lists the queue methods", async () => {
    const result = await bufCurl(...flags(), "--list-methods", target().url);
    expect(result.stdout.trim().split("\n")).toContain("boxoffice.v1.QueueService/WatchPosition");
  });

  it("configures, joins, watches and leaves", async () => {
    const eventId = uniqueId();
    const call = (method: string, body: object) =>
      bufCurl(...flags(), "-d", JSON.stringify(body), `${target().url}/boxoffice.v1.QueueService/${method}`);

    expect((await call("ConfigureQueue", { event_id: eventId })).exitCode).toBe(0);
    const joined = await call("Join", { event_id: eventId, user_id: "op" });
    expect(joined.exitCode).toBe(0);
    const ticket = JSON.parse(joined.stdout).ticket;
    expect(ticket).toMatchObject({ eventId, userId: "op", state: "TICKET_STATE_WAITING", position: 1 });
    // A google.protobuf.Timestamp, rendered from a descriptor that came over reflection.
    expect(ticket.joinedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);

    const watch = spawnBufCurl(...flags(), "-d", JSON.stringify({ event_id: eventId, user_id: "op" }), `${target().url}/boxoffice.v1.QueueService/WatchPosition`);
    let output = "";
    const exited = once(watch, "exit");
    await new Promise<void>((resolve) => {
      watch.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("TICKET_STATE_WAITING")) resolve();
      });
    });
    expect((await call("Leave", { event_id: eventId, user_id: "op" })).exitCode).toBe(0);
    const [code] = await exited;
    expect(code).toBe(0);
    expect(output).toContain("TICKET_STATE_LEFT");
  });

  it("reports errors with their reason", async () => {
    const result = await bufCurl(...flags(), "-d", JSON.stringify({ event_id: uniqueId(), user_id: "x" }), `${target().url}/boxoffice.v1.QueueService/Join`);
    expect(result.exitCode).toBe(5 << 3);
    // buf curl prints details undecoded; the operator still gets the ErrorInfo bytes.
    const error = JSON.parse(result.stderr) as { code: string; details: Array<{ type: string; value: string }> };
    expect(error.code).toBe("not_found");
    const detail = error.details.find((d) => d.type === "google.rpc.ErrorInfo");
    const info = fromBinary(ErrorInfoSchema, Buffer.from(detail?.value ?? "", "base64url"));
    expect(info).toMatchObject({ reason: "EVENT_NOT_FOUND", domain: "boxoffice.v1" });
  });

  it("checks health", async () => {
    const result = await bufCurl(...flags(), "-d", "{}", `${target().url}/grpc.health.v1.Health/Check`);
    expect(JSON.parse(result.stdout)).toEqual({ status: "SERVING" });
  });
});

it("serves the queue service it lists", () => {
  expect(SERVICES).toContain(QueueService.typeName);
});
