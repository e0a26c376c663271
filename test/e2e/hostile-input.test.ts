import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigureQueueRequestSchema, QueueState } from "../../gen/boxoffice/v1/queue_pb.js";
import { BadRequestSchema, ErrorInfoSchema, type BadRequest, type ErrorInfo } from "../../gen/google/rpc/error_details_pb.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded-redis.js";
import { envelope, rawGrpcCall, rawGrpcWebCall } from "../support/raw-wire.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

/**
 * Malformed requests over the wire, on both ports: each is bad input
 * (INVALID_ARGUMENT with ErrorInfo INVALID_REQUEST), never INTERNAL or
 * UNKNOWN, and nothing reaches Redis. The server runs on a Redis of its own,
 * so DBSIZE counts only what these calls wrote.
 */

const PATH = "/boxoffice.v1.QueueService/ConfigureQueue";
/** grpc-status 0; connect's `Code` has no member for success. */
const OK = 0;
let redis: EmbeddedRedis;
let server: RunningServer;

beforeAll(async () => {
  redis = await startEmbeddedRedis();
  server = await startServer({}, { redisUrl: redis.url });
});

afterAll(async () => {
  await server?.stop();
  await redis?.stop();
});

function configure(eventId = uniqueId()): Uint8Array {
  return toBinary(ConfigureQueueRequestSchema, create(ConfigureQueueRequestSchema, { eventId, state: QueueState.PAUSED }));
}

const dbsize = (): Promise<number> => server.redis.dbsize();

interface Outcome {
  code: number | undefined;
  errorInfo: ErrorInfo | undefined;
  badRequest: BadRequest | undefined;
}

/** A call that must be refused as bad input without touching Redis. */
async function expectRefused(call: () => Promise<Outcome>, expected = Code.InvalidArgument): Promise<Outcome> {
  const before = await dbsize();
  const outcome = await call();
  expect(outcome.code).not.toBe(Code.Internal);
  expect(outcome.code).not.toBe(Code.Unknown);
  expect(outcome.code).toBe(expected);
  if (expected === Code.InvalidArgument) {
    expect(outcome.errorInfo?.reason).toBe("INVALID_REQUEST");
    expect(outcome.errorInfo?.domain).toBe("boxoffice.v1");
  }
  expect(await dbsize()).toBe(before);
  return outcome;
}

const grpc = { "content-type": "application/grpc" };
const grpcCases: Array<[string, Record<string, string>, () => Uint8Array]> = [
  ["garbage body bytes", grpc, () => envelope(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]))],
  ["a truncated message", grpc, () => envelope(configure().subarray(0, -1))],
  ["a message flagged gzip-compressed that is not", { ...grpc, "grpc-encoding": "gzip" }, () => envelope(configure(), 1)],
  ["an invalid grpc-timeout", { ...grpc, "grpc-timeout": "soon" }, () => envelope(configure())],
  ["no message at all (an empty body)", grpc, () => new Uint8Array(0)],
  ["two messages for a unary method", grpc, () => Buffer.concat([envelope(configure()), envelope(configure())])],
  ["an envelope that promises more bytes than it holds", grpc, () => envelope(configure(), 0, configure().byteLength + 10)],
];

describe.each([
  ["gRPC port (grpc-js)", () => server.grpcUrl],
  ["Connect port, gRPC protocol", () => server.connectUrl],
])("%s refuses malformed requests", (_port, url) => {
  it("accepts the well-formed request, which does write to Redis (the control)", async () => {
    const before = await dbsize();
    const outcome = await rawGrpcCall(url(), PATH, grpc, envelope(configure()));
    expect(outcome.code).toBe(OK);
    expect(await dbsize()).toBeGreaterThan(before);
  });

  it.each(grpcCases)("%s", async (_name, headers, body) => {
    await expectRefused(() => rawGrpcCall(url(), PATH, headers, body()));
  });

  it("a message over the 4 MiB limit is RESOURCE_EXHAUSTED", async () => {
    await expectRefused(() => rawGrpcCall(url(), PATH, grpc, envelope(new Uint8Array(5 * 1024 * 1024))), Code.ResourceExhausted);
  });
});

it("gRPC port: content-type grpc+json is not a codec grpc-js speaks; its JSON body is an undecodable message", async () => {
  const body = envelope(Buffer.from(JSON.stringify({ eventId: uniqueId(), state: "QUEUE_STATE_PAUSED" })));
  await expectRefused(() => rawGrpcCall(server.grpcUrl, PATH, { "content-type": "application/grpc+json" }, body));
});

describe("Connect port, gRPC protocol, further cases", () => {
  it("a message flagged compressed without any grpc-encoding", async () => {
    await expectRefused(() => rawGrpcCall(server.connectUrl, PATH, grpc, envelope(configure(), 1)));
  });

  it("content-type grpc+json with a binary body", async () => {
    await expectRefused(() => rawGrpcCall(server.connectUrl, PATH, { "content-type": "application/grpc+json" }, envelope(configure())));
  });

  // (grpc-js serves the first message and ignores an incomplete frame after it; the Connect port refuses the body.)
  it("bytes after the message", async () => {
    await expectRefused(() => rawGrpcCall(server.connectUrl, PATH, grpc, Buffer.concat([envelope(configure()), Buffer.from([0, 0])])));
  });

  it("an envelope that promises more bytes than it holds", async () => {
    const message = configure();
    await expectRefused(() => rawGrpcCall(server.connectUrl, PATH, grpc, envelope(message, 0, message.byteLength + 10)));
  });

  it("an unknown enum name over grpc+json, with a field violation", async () => {
    const body = envelope(Buffer.from(JSON.stringify({ eventId: uniqueId(), state: "QUEUE_STATE_PAUSD" })));
    const outcome = await expectRefused(() => rawGrpcCall(server.connectUrl, PATH, { "content-type": "application/grpc+json" }, body));
    expect(outcome.badRequest?.fieldViolations.map((v) => v.field)).toEqual(["state"]);
  });

  it("an unsupported encoding is UNIMPLEMENTED, as the gRPC spec says", async () => {
    await expectRefused(() => rawGrpcCall(server.connectUrl, PATH, { ...grpc, "grpc-encoding": "zstd" }, envelope(configure(), 1)), Code.Unimplemented);
  });
});

describe("Connect port, gRPC-Web protocol", () => {
  const web = { "content-type": "application/grpc-web+proto" };

  it("accepts the well-formed request (the control)", async () => {
    expect((await rawGrpcWebCall(server.connectUrl, PATH, web, envelope(configure()))).code).toBe(OK);
  });

  it.each(grpcCases)("%s", async (_name, headers, body) => {
    await expectRefused(() => rawGrpcWebCall(server.connectUrl, PATH, { ...headers, ...web }, body()));
  });

  it("an unknown enum name over grpc-web+json, with a field violation", async () => {
    const body = envelope(Buffer.from(JSON.stringify({ eventId: uniqueId(), state: "QUEUE_STATE_PAUSD" })));
    const outcome = await expectRefused(() => rawGrpcWebCall(server.connectUrl, PATH, { "content-type": "application/grpc-web+json" }, body));
    expect(outcome.badRequest?.fieldViolations.map((v) => v.field)).toEqual(["state"]);
  });
});

/** A Connect unary call with a raw body; the error's details decoded from the JSON error body. */
async function connectCall(body: string | Uint8Array, headers: Record<string, string> = { "content-type": "application/json" }): Promise<Outcome> {
  const res = await fetch(`${server.connectUrl}${PATH}`, { method: "POST", headers, body });
  const json = (await res.json()) as { code?: string; details?: Array<{ type: string; value: string }> };
  const detail = (type: string) => json.details?.find((d) => d.type === type)?.value;
  const info = detail("google.rpc.ErrorInfo");
  const bad = detail("google.rpc.BadRequest");
  return {
    code: json.code === undefined ? OK : Code[toCamel(json.code) as keyof typeof Code],
    errorInfo: info === undefined ? undefined : fromBinary(ErrorInfoSchema, Buffer.from(info, "base64")),
    badRequest: bad === undefined ? undefined : fromBinary(BadRequestSchema, Buffer.from(bad, "base64")),
  };
}

function toCamel(code: string): string {
  return code.replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
}

describe("Connect port, Connect protocol (JSON)", () => {
  it("accepts the well-formed request, which does write to Redis (the control)", async () => {
    const before = await dbsize();
    expect((await connectCall(JSON.stringify({ eventId: uniqueId(), state: "QUEUE_STATE_PAUSED" }))).code).toBe(OK);
    expect(await dbsize()).toBeGreaterThan(before);
  });

  it.each([
    ["an unknown enum name", { state: "QUEUE_STATE_PAUSD" }, "state"],
    ["another unknown enum name", { state: "QUEUE_STATE_CLOSD" }, "state"],
    ["an impossible date", { opensAt: "2030-02-30T00:00:00Z" }, "opens_at"],
    ["an impossible time", { opensAt: "2030-01-01T24:00:00Z" }, "opens_at"],
    ["a number where a string belongs", { eventId: 5 }, "event_id"],
  ])("%s is INVALID_ARGUMENT with a field violation", async (_name, fields, field) => {
    const outcome = await expectRefused(() => connectCall(JSON.stringify({ eventId: uniqueId(), ...fields })));
    expect(outcome.badRequest?.fieldViolations.map((v) => v.field)).toEqual([field]);
  });

  it.each([
    ["malformed JSON", '{"eventId":'],
    ["a JSON array", "[]"],
    ["invalid UTF-8", Buffer.from([0x7b, 0xff, 0x7d])],
  ])("%s is INVALID_ARGUMENT with ErrorInfo", async (_name, body) => {
    await expectRefused(() => connectCall(body));
  });

  it("garbage binary and an invalid connect-timeout-ms are INVALID_ARGUMENT with ErrorInfo", async () => {
    await expectRefused(() => connectCall(Buffer.from([0xff, 0xff, 0xff, 0x0f]), { "content-type": "application/proto" }));
    await expectRefused(() =>
      connectCall(JSON.stringify({ eventId: uniqueId() }), { "content-type": "application/json", "connect-timeout-ms": "-5" }),
    );
  });
});
