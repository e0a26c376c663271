import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflectionRequestSchema as ReflectionRequestV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflectionRequestSchema as ReflectionRequestV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createHealthService } from "../../src/health/health-service.js";
import { HealthStatus } from "../../src/health/health-status.js";
import { bufCurl } from "../support/buf-curl.js";
import { createReflectionServices, reflectionServiceDescriptors } from "../../src/reflection/reflection-services.js";

/**
 * buf curl against a real HTTP/2 server: the client knows no schema at all and
 * must get everything, imports included, through reflection.
 */

const unimplemented = (): never => {
  throw new ConnectError("stub", Code.Unimplemented);
};

/** Records what reached the stub, then refuses: enough to prove the request was decoded. */
const joinedEvents: string[] = [];
const stubQueue: ServiceImpl<typeof QueueService> = {
  configureQueue: unimplemented,
  getQueueStats: unimplemented,
  join(request) {
    joinedEvents.push(request.eventId);
    return unimplemented();
  },
  getPosition: unimplemented,
  // A stream that fails before sending anything.
  async *watchPosition() {
    unimplemented();
  },
  leave: unimplemented,
};

/** Which services buf curl called, and every reflection question it asked. */
const calledServices = new Set<string>();
const reflectionQuestions: string[] = [];
const record: Interceptor = (next) => (request) => {
  calledServices.add(request.service.typeName);
  if (!request.stream) return next(request);
  return next({ ...request, message: tapQuestions(request.message) });
};

async function* tapQuestions<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  for await (const message of messages) {
    if (isMessage(message, ReflectionRequestV1) || isMessage(message, ReflectionRequestV1alpha)) {
      reflectionQuestions.push(`${message.messageRequest.case} ${JSON.stringify(message.messageRequest.value)}`);
    }
    yield message;
  }
}

const mounted = [QueueService, Health, ...reflectionServiceDescriptors];
let server: http2.Http2Server;
const sessions = new Set<http2.ServerHttp2Session>();
let baseUrl = "";

beforeAll(async () => {
  const routes = (router: ConnectRouter): void => {
    router.service(QueueService, stubQueue);
    for (const { service, impl } of [createHealthService(new HealthStatus()), ...createReflectionServices(mounted)]) {
      router.service(service, impl);
    }
  };
  server = http2.createServer(connectNodeAdapter({ routes, interceptors: [record] }));
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const session of sessions) session.destroy();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

beforeEach(() => {
  calledServices.clear();
  reflectionQuestions.length = 0;
  joinedEvents.length = 0;
});

const grpc = ["--protocol", "grpc", "--http2-prior-knowledge"];
const lines = (text: string): string[] => text.split("\n").filter((line) => line !== "").sort();

describe("buf curl over server reflection", { timeout: 60_000 }, () => {
  it("lists services with reflection v1 by default", async () => {
    const result = await bufCurl(...grpc, "--list-services", baseUrl);
    expect(result.stderr).toBe("");
    expect(lines(result.stdout)).toEqual(mounted.map((s) => s.typeName).sort());
    expect(calledServices).toEqual(new Set(["grpc.reflection.v1.ServerReflection"]));
  });

  it("lists services with reflection v1alpha", async () => {
    const result = await bufCurl(...grpc, "--reflect-protocol", "grpc-v1alpha", "--list-services", baseUrl);
    expect(result.stderr).toBe("");
    expect(lines(result.stdout)).toEqual(mounted.map((s) => s.typeName).sort());
    expect(calledServices).toEqual(new Set(["grpc.reflection.v1alpha.ServerReflection"]));
  });

  it("lists the methods of every service", async () => {
    const result = await bufCurl(...grpc, "--list-methods", baseUrl);
    expect(result.exitCode).toBe(0);
    expect(lines(result.stdout)).toEqual(
      expect.arrayContaining([
        "boxoffice.v1.QueueService/ConfigureQueue",
        "boxoffice.v1.QueueService/Join",
        "boxoffice.v1.QueueService/WatchPosition",
        "grpc.health.v1.Health/Watch",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      ]),
    );
  });

  it.each(["grpc-v1", "grpc-v1alpha"])("invokes QueueService/Join from the schema it got over %s", async (protocol) => {
    const result = await bufCurl(
      ...grpc,
      "--reflect-protocol",
      protocol,
      "--data",
      '{"eventId": "e-1", "userId": "u-1"}',
      `${baseUrl}/boxoffice.v1.QueueService/Join`,
    );
    // Reaching the stub with the JSON decoded means buf curl linked the
    // queue file with its imports (Timestamp, buf.validate, descriptor.proto).
    expect(joinedEvents).toEqual(["e-1"]);
    // buf curl fetches missing imports by name; strict clients do not. One
    // question sufficed, so every import came with the first answer.
    expect(reflectionQuestions).toEqual(['fileContainingSymbol "boxoffice.v1.QueueService"']);
    expect(result.exitCode).toBe(Code.Unimplemented << 3);
    expect(result.stderr).toMatch(/"code":\s*"unimplemented"/);
    expect(result.stderr).toMatch(/"message":\s*"stub"/);
  });

  it("checks health through reflection", async () => {
    const result = await bufCurl(...grpc, "--data", '{"service": ""}', `${baseUrl}/grpc.health.v1.Health/Check`);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({ status: "SERVING" });
  });
});
