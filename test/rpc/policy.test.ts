import { Writable } from "node:stream";
import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import pino from "pino";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { describe, expect, it, onTestFinished } from "vitest";
import { QueueStore } from "../../src/queue/queue-store.js";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { withCallPolicy } from "../../src/rpc/policy.js";
import { createRequestValidator } from "../../src/rpc/validator.js";
import { registration } from "../../src/rpc/registration.js";

/** A QueueService whose Join does whatever the test says, mounted in memory behind the policy. */
function harness(join: ServiceImpl<typeof QueueService>["join"]) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  let calls = 0;
  const fail = (): never => {
    throw new ConnectError("not here", Code.Unimplemented);
  };
  const impl: ServiceImpl<typeof QueueService> = {
    configureQueue: fail,
    getQueueStats: fail,
    join: (req, ctx) => {
      calls++;
      return join(req, ctx);
    },
    getPosition: fail,
    watchPosition: fail,
    leave: fail,
  };
  const wrapped = withCallPolicy(registration(QueueService, impl), { logger, validator: createRequestValidator() });
  const transport = createRouterTransport((router) => router.service(QueueService, wrapped.impl as unknown as ServiceImpl<typeof QueueService>));
  return { client: createClient(QueueService, transport), lines, calls: () => calls };
}

async function error(promise: Promise<unknown>): Promise<ConnectError> {
  return promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

describe("call policy", () => {
  it("rejects invalid requests before the implementation runs", async () => {
    const h = harness(() => ({}));
    const err = await error(h.client.join({ eventId: "", userId: "ok" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(h.calls()).toBe(0);
  });

  it("passes expected ConnectErrors through untouched and logs nothing", async () => {
    const h = harness(() => {
      throw new ConnectError("closed", Code.FailedPrecondition);
    });
    const err = await error(h.client.join({ eventId: "e", userId: "u" }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(h.lines).toEqual([]);
  });

  it("turns an unexpected error into INTERNAL without its message, and logs it with the request id", async () => {
    const h = harness(() => {
      throw new TypeError("secret detail");
    });
    const err = await error(h.client.join({ eventId: "e", userId: "u" }, { headers: { "x-request-id": "req-42" } }));
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).not.toContain("secret");
    expect(h.lines).toHaveLength(1);
    expect(h.lines[0]).toMatchObject({ level: 50, rpc: "boxoffice.v1.QueueService/Join", requestId: "req-42" });
  });

  it("maps an unreachable Redis to UNAVAILABLE with a reason", async () => {
    // A real client aimed at a port nobody listens on (a server we start and stop).
    const closed = await closedPort();
    const redis = new Redis({ port: closed, host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    redis.on("error", () => {});
    onTestFinished(() => redis.disconnect());
    const store = new QueueStore(redis);
    const h = harness(async (req) => {
      await store.join(req.eventId, req.userId);
      return {};
    });
    const err = await error(h.client.join({ eventId: "e", userId: "u" }));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("BACKEND_UNAVAILABLE");
  });

  it.each([
    ["a command Redis did not answer in time", "Command timed out"],
    ["a command refused while disconnected", "Stream isn't writeable and enableOfflineQueue options is false"],
  ])("maps %s to UNAVAILABLE, not INTERNAL", async (_, message) => {
    // The errors ioredis raises (plain Errors) with the options of src/redis/redis-client.ts.
    const h = harness(() => {
      throw new Error(message);
    });
    const err = await error(h.client.join({ eventId: "e", userId: "u" }));
    expect(err.code).toBe(Code.Unavailable);
    // The command may have reached Redis: the caller is told the outcome is unknown.
    expect(err.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "BACKEND_UNAVAILABLE", metadata: { outcome: "UNKNOWN" } });
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
