import { Writable } from "node:stream";
import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { describe, expect, it, onTestFinished } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Authenticator } from "../../src/auth/authenticator.js";
import { withCallPolicy, type CallPolicyDeps } from "../../src/rpc/policy.js";
import { registration } from "../../src/rpc/registration.js";
import { createRequestValidator } from "../../src/rpc/validator.js";
import { createGrpcServer } from "../../src/transport/grpc-server.js";

const CLIENT = "client-token-for-policy-tests";

/** A QueueService behind the policy, in memory: Join answers, WatchPosition sends one message and waits for the client to go. */
function harness(options: { level: string; deps?: Partial<CallPolicyDeps> }) {
  const lines: Array<Record<string, unknown>> = [];
  let lineWritten = (): void => undefined;
  const logger = pino(
    { level: options.level },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        lineWritten();
        done();
      },
    }),
  );
  /** Resolves once a line is written (event-driven: no polling). */
  const nextLine = (): Promise<void> => new Promise((resolve) => (lineWritten = resolve));
  const reached: string[] = [];
  const fail = (): never => {
    throw new ConnectError("not here", Code.Unimplemented);
  };
  const impl: ServiceImpl<typeof QueueService> = {
    configureQueue: () => (reached.push("configureQueue"), {}),
    getQueueStats: fail,
    join: () => (reached.push("join"), {}),
    getPosition: fail,
    async *watchPosition(_req, ctx) {
      reached.push("watchPosition");
      yield {};
      await new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
    },
    leave: fail,
  };
  const wrapped = withCallPolicy(registration(QueueService, impl), { logger, validator: createRequestValidator(), ...options.deps });
  const transport = createRouterTransport((router) => router.service(QueueService, wrapped.impl as unknown as ServiceImpl<typeof QueueService>));
  return { client: createClient(QueueService, transport), lines, reached, nextLine, wrapped };
}

const completed = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l["msg"] === "rpc completed");

describe("call policy: completion lines", () => {
  it("writes them at debug by default, so an info logger stays quiet", async () => {
    const quiet = harness({ level: "info" });
    await quiet.client.join({ eventId: "e", userId: "u" });
    expect(quiet.lines).toEqual([]);
    const verbose = harness({ level: "debug" });
    await verbose.client.join({ eventId: "e", userId: "u" }, { headers: { "x-request-id": "r-1" } });
    expect(completed(verbose.lines)).toEqual([
      expect.objectContaining({ level: 20, rpcService: "boxoffice.v1.QueueService", rpcMethod: "Join", code: "OK", eventId: "e", requestId: "r-1" }),
    ]);
  });

  it("writes them at info with logCalls, one per call, failures with their code", async () => {
    const h = harness({ level: "info", deps: { logCalls: true } });
    await h.client.join({ eventId: "e", userId: "u" });
    await expect(h.client.join({ eventId: "", userId: "u" })).rejects.toBeInstanceOf(ConnectError);
    expect(completed(h.lines).map((l) => [l["level"], l["code"]])).toEqual([
      [30, "OK"],
      [30, "INVALID_ARGUMENT"],
    ]);
  });

  it("completes a stream the client abandons (over grpc-js), with the reason its signal carries", async () => {
    const h = harness({ level: "info", deps: { logCalls: true } });
    const server = createGrpcServer([h.wrapped]);
    const port = await server.listen(0, "127.0.0.1");
    onTestFinished(() => server.shutdown(0));
    const client = createClient(QueueService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    const abort = new AbortController();
    const line = h.nextLine();
    for await (const _ of client.watchPosition({ eventId: "e", userId: "u" }, { signal: abort.signal })) {
      abort.abort();
      break;
    }
    await line;
    expect(completed(h.lines)).toEqual([expect.objectContaining({ rpcMethod: "WatchPosition", code: "CANCELED", eventId: "e" })]);
  });
});

describe("call policy: credentials", () => {
  const auth = { authenticator: new Authenticator([{ role: "client", token: CLIENT }]) };

  it("checks credentials before validation: an invalid request without a token is UNAUTHENTICATED", async () => {
    const h = harness({ level: "info", deps: auth });
    const err = ConnectError.from(await h.client.join({ eventId: "", userId: "" }).catch((e: unknown) => e));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("CREDENTIALS_MISSING");
    expect(h.reached).toEqual([]);
  });

  it("lets a client token through to client methods only", async () => {
    const h = harness({ level: "info", deps: auth });
    const headers = { authorization: `Bearer ${CLIENT}` };
    await h.client.join({ eventId: "e", userId: "u" }, { headers });
    const err = ConnectError.from(await h.client.configureQueue({ eventId: "e" }, { headers }).catch((e: unknown) => e));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.findDetails(ErrorInfoSchema)[0]?.metadata).toEqual({ role: "admin" });
    expect(h.reached).toEqual(["join"]);
  });

  it("opens everything without an authenticator (development mode)", async () => {
    const h = harness({ level: "info" });
    await h.client.configureQueue({ eventId: "e" });
    await h.client.join({ eventId: "e", userId: "u" });
    expect(h.reached).toEqual(["configureQueue", "join"]);
  });
});
