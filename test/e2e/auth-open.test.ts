import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection, ServerReflectionRequestSchema } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { uniqueId } from "../support/redis.js";
import { TRANSPORT_NAMES, transportsWith } from "./auth-support.js";
import { startServer, type RunningServer } from "./server.js";

const CLIENT_TOKEN = `client-${randomBytes(16).toString("hex")}`;
const ADMIN_TOKEN = `admin-${randomBytes(16).toString("hex")}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The services reflection lists, asked over a bidi stream (so over HTTP/2 only). */
async function listServices(transport: Transport): Promise<string[]> {
  const client = createClient(ServerReflection, transport);
  async function* one() {
    yield create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "*" } });
  }
  for await (const response of client.serverReflectionInfo(one())) {
    if (response.messageResponse.case === "listServicesResponse") {
      return response.messageResponse.value.service.map((s) => s.name);
    }
  }
  throw new Error("no answer");
}

function refusal(err: unknown): { code: Code; reason: string | undefined } {
  const error = ConnectError.from(err);
  return { code: error.code, reason: error.findDetails(ErrorInfoSchema)[0]?.reason };
}

describe("with tokens required, reflection open (the default)", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ AUTH_TOKENS: `client:${CLIENT_TOKEN},admin:${ADMIN_TOKEN}` });
  });
  afterAll(() => server.stop());

  it.each(TRANSPORT_NAMES)("answers health checks without credentials on %s", async (name) => {
    const transport = transportsWith(server.grpcUrl, server.connectUrl, {})[name];
    const response = await createClient(Health, transport).check({ service: QueueService.typeName });
    expect(response.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it.each(["grpc-port/grpc", "connect-port/grpc"] as const)("lists services without credentials on %s", async (name) => {
    const services = await listServices(transportsWith(server.grpcUrl, server.connectUrl, {})[name]);
    expect(services).toContain(QueueService.typeName);
  });

  /** The x-request-id a Join came back with: in the response headers, or in the error's metadata. */
  async function joinRequestId(transport: Transport): Promise<{ code: Code | "ok"; requestId: string | null }> {
    let requestId: string | null = null;
    try {
      await createClient(QueueService, transport).join({ eventId: uniqueId(), userId: "u" }, { onHeader: (h) => (requestId = h.get("x-request-id")) });
      return { code: "ok", requestId };
    } catch (err) {
      const error = ConnectError.from(err);
      return { code: error.code, requestId: error.metadata.get("x-request-id") };
    }
  }

  it.each(TRANSPORT_NAMES)("echoes a well-formed x-request-id on %s, past the check and when refused", async (name) => {
    const authed = transportsWith(server.grpcUrl, server.connectUrl, { authorization: `Bearer ${CLIENT_TOKEN}`, "x-request-id": "req-42.a:b" })[name];
    // The event has no queue: the call passes the credential check and meets the service.
    expect(await joinRequestId(authed)).toEqual({ code: Code.NotFound, requestId: "req-42.a:b" });
    const anonymous = transportsWith(server.grpcUrl, server.connectUrl, { "x-request-id": "req-43" })[name];
    expect(await joinRequestId(anonymous)).toEqual({ code: Code.Unauthenticated, requestId: "req-43" });
  });

  it.each(TRANSPORT_NAMES)("replaces a missing or malformed x-request-id with a fresh one on %s", async (name) => {
    const ids: Array<string | null> = [];
    const variants: Array<Record<string, string>> = [{}, { "x-request-id": "has spaces {and braces}" }];
    for (const headers of variants) {
      ids.push((await joinRequestId(transportsWith(server.grpcUrl, server.connectUrl, headers)[name])).requestId);
    }
    expect(ids[0]).toMatch(UUID);
    expect(ids[1]).toMatch(UUID);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it.each(TRANSPORT_NAMES)("answers a successful call on %s with its x-request-id in the response headers", async (name) => {
    const transport = transportsWith(server.grpcUrl, server.connectUrl, { authorization: `Bearer ${ADMIN_TOKEN}`, "x-request-id": "ok-1" })[name];
    let header: string | null = null;
    await createClient(QueueService, transport).configureQueue({ eventId: uniqueId() }, { onHeader: (h) => (header = h.get("x-request-id")) });
    expect(header).toBe("ok-1");
  });
});

describe("with AUTH_OPEN_REFLECTION=false", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ AUTH_TOKENS: `client:${CLIENT_TOKEN}`, AUTH_OPEN_REFLECTION: "false" });
  });
  afterAll(() => server.stop());

  it.each(["grpc-port/grpc", "connect-port/grpc"] as const)("reflection needs a token on %s; health still does not", async (name) => {
    const anonymous = transportsWith(server.grpcUrl, server.connectUrl, {})[name];
    await expect(listServices(anonymous)).rejects.toSatisfy((err) => refusal(err).reason === "CREDENTIALS_MISSING");
    const authed = transportsWith(server.grpcUrl, server.connectUrl, { authorization: `Bearer ${CLIENT_TOKEN}` })[name];
    expect(await listServices(authed)).toContain(QueueService.typeName);
    const health = await createClient(Health, anonymous).check({});
    expect(health.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });
});
