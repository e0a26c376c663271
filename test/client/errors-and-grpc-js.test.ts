import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ERROR_DOMAIN,
  ErrorInfoSchema,
  QueueService,
  Reason,
  RETRY_SAFE_METHODS,
  SeatService,
  TicketState,
  ChangeFeedService,
  createBoxofficeClient,
  errorDetailsOf,
  reasonOf,
  retryServiceConfig,
  type WatchPositionResponse,
} from "../../src/client/index.js";
import { createGrpcJsClient, grpcServiceDefinition } from "../../src/client/grpc-js.js";
import { ERROR_DOMAIN as SERVER_ERROR_DOMAIN } from "../../src/rpc/errors.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "../e2e/server.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

describe("reasonOf and errorDetailsOf", () => {
  it.each(["grpc-port/grpc", "connect-port/connect", "connect-port/grpc-web"] as const)("read a connect-es error over %s", async (name) => {
    const boxoffice = createBoxofficeClient(server.transports[name]);
    const err = await boxoffice.queue.join({ eventId: uniqueId(), userId: "u" }).catch((e: unknown) => e);
    expect(reasonOf(err)).toBe(Reason.EVENT_NOT_FOUND);
    const invalid = await boxoffice.seats.holdSeats({ eventId: "not valid", userId: "" }).catch((e: unknown) => e);
    const details = errorDetailsOf(invalid);
    expect(details).toMatchObject({ code: Code.InvalidArgument, reason: Reason.INVALID_REQUEST, reasonName: "INVALID_REQUEST" });
    expect(details.badRequest?.fieldViolations.map((v) => v.field)).toEqual(expect.arrayContaining(["event_id", "user_id"]));
  });

  it("carry the ErrorInfo metadata", async () => {
    const eventId = uniqueId();
    const { seats } = createBoxofficeClient(server.transports["grpc-port/grpc"]);
    await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2"] }] }] });
    await seats.holdSeats({ eventId, userId: "first", selection: { case: "seats", value: { seatIds: ["A1"] } } });
    const err = await seats.holdSeats({ eventId, userId: "second", selection: { case: "seats", value: { seatIds: ["A1", "A2"] } } }).catch((e: unknown) => e);
    expect(errorDetailsOf(err)).toMatchObject({ code: Code.FailedPrecondition, reason: Reason.SEAT_UNAVAILABLE, metadata: { seat_ids: "A1" } });
  });

  it("read the domain the server writes", () => {
    expect(ERROR_DOMAIN).toBe(SERVER_ERROR_DOMAIN);
  });

  it("say UNSPECIFIED for errors without a Boxoffice ErrorInfo, or with a reason newer than the package", () => {
    expect(reasonOf(new Error("boom"))).toBe(Reason.UNSPECIFIED);
    expect(reasonOf(undefined)).toBe(Reason.UNSPECIFIED);
    expect(reasonOf(new ConnectError("no details", Code.Unavailable))).toBe(Reason.UNSPECIFIED);
    expect(errorDetailsOf(new ConnectError("no details", Code.Unavailable)).code).toBe(Code.Unavailable);
    const info = (reason: string, domain: string) => [{ desc: ErrorInfoSchema, value: { reason, domain } }];
    const newer = new ConnectError("newer", Code.FailedPrecondition, undefined, info("SOMETHING_NEW", "boxoffice.v1"));
    expect(errorDetailsOf(newer)).toMatchObject({ reason: Reason.UNSPECIFIED, reasonName: "SOMETHING_NEW" });
    const foreign = new ConnectError("foreign", Code.FailedPrecondition, undefined, info("SOLD_OUT", "payments.v1"));
    expect(reasonOf(foreign)).toBe(Reason.UNSPECIFIED);
  });
});

describe("the grpc-js entry", () => {
  it("joins, watches and leaves with typed messages over a plain grpc-js channel", async () => {
    const queue = createGrpcJsClient(QueueService, `127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const eventId = uniqueId();
      await queue.configureQueue({ eventId });
      expect((await queue.join({ eventId, userId: "g" })).ticket).toMatchObject({ position: 1, state: TicketState.WAITING });
      const states: TicketState[] = [];
      for await (const { ticket } of queue.watchPosition({ eventId, userId: "g" }) as AsyncIterable<WatchPositionResponse>) {
        states.push(ticket?.state ?? TicketState.UNSPECIFIED);
        if (states.length === 1) await queue.leave({ eventId, userId: "g" });
      }
      expect(states).toEqual([TicketState.WAITING, TicketState.LEFT]);
    } finally {
      queue.close();
    }
  });

  it("reads ErrorInfo and BadRequest from grpc-status-details-bin", async () => {
    const seats = createGrpcJsClient(SeatService, `127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const missing = await seats.getHold({ eventId: uniqueId(), holdId: "h", userId: "u" }).catch((e: unknown) => e);
      expect((missing as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
      expect(reasonOf(missing)).toBe(Reason.SEAT_MAP_NOT_FOUND);
      const invalid = await seats.getHold({ eventId: "", holdId: "", userId: "" }).catch((e: unknown) => e);
      expect(errorDetailsOf(invalid).badRequest?.fieldViolations.length).toBeGreaterThan(0);
    } finally {
      seats.close();
    }
  });

  it("sends every HoldSeats with a request id, the caller's or a fresh one, so its channel may retry it", async () => {
    const sent: Array<{ requestId?: string }> = [];
    const capture: grpc.Interceptor = (options, nextCall) =>
      new grpc.InterceptingCall(nextCall(options), {
        sendMessage(message: { requestId?: string }, next) {
          sent.push(message);
          next(message);
        },
      });
    const seats = createGrpcJsClient(SeatService, `127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure(), { interceptors: [capture] });
    try {
      const eventId = uniqueId();
      await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2"] }] }] });
      const selection = { case: "seats" as const, value: { seatIds: ["A1"] } };
      const first = await seats.holdSeats({ eventId, userId: "ann", selection });
      expect(sent.at(-1)?.requestId).toMatch(/^r[0-9a-f]{32}$/);
      const again = await seats.holdSeats({ eventId, userId: "ann", requestId: sent.at(-1)?.requestId, selection });
      expect(sent.at(-1)?.requestId).toBe(sent.at(-2)?.requestId);
      expect(again.hold).toEqual(first.hold);
    } finally {
      seats.close();
    }
  });

  it("cancels a call when its signal aborts", async () => {
    const queue = createGrpcJsClient(QueueService, `127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const eventId = uniqueId();
      await queue.configureQueue({ eventId });
      await queue.join({ eventId, userId: "w" });
      const controller = new AbortController();
      const seen: unknown[] = [];
      const err = await (async () => {
        for await (const message of queue.watchPosition({ eventId, userId: "w" }, { signal: controller.signal })) {
          seen.push(message);
          controller.abort();
        }
      })().catch((e: unknown) => e);
      expect(seen).toHaveLength(1);
      expect((err as grpc.ServiceError).code).toBe(grpc.status.CANCELLED);
    } finally {
      queue.close();
    }
  });

  it("gives a ServiceDefinition grpc-js's own generic client works with", async () => {
    const Queue = grpc.makeGenericClientConstructor(grpcServiceDefinition(QueueService), "QueueService");
    const client = new Queue(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) => client["join"]!({ eventId: uniqueId(), userId: "u" }, (e: grpc.ServiceError | null) => resolve(e)));
      expect(reasonOf(err)).toBe(Reason.EVENT_NOT_FOUND);
    } finally {
      client.close();
    }
  });
});

describe("the retry service config", () => {
  it("names only methods the services have, HoldSeats only for channels that fill in request ids, and grpc-js accepts it", () => {
    const known = new Set([QueueService, SeatService, ChangeFeedService].flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`)));
    const named = RETRY_SAFE_METHODS.map((m) => `${m.service}/${m.method}`);
    expect(named.filter((n) => !known.has(n))).toEqual([]);
    expect(named).toEqual(expect.arrayContaining(["boxoffice.v1.QueueService/Join", "boxoffice.v1.SeatService/ConfirmHold", "boxoffice.v1.SeatService/ReleaseHold"]));
    expect(named.some((n) => n.endsWith("/HoldSeats"))).toBe(false);
    const namesIn = (config: ReturnType<typeof retryServiceConfig>) => config.methodConfig.flatMap((c) => c.name.map((n) => n.method));
    expect(namesIn(retryServiceConfig())).not.toContain("HoldSeats");
    expect(namesIn(retryServiceConfig({ requestIdsFilled: true }))).toContain("HoldSeats");
    const config = JSON.stringify(retryServiceConfig());
    expect(() => new grpc.Client("127.0.0.1:1", grpc.credentials.createInsecure(), { "grpc.service_config": config }).close()).not.toThrow();
    expect(() => new grpc.Client("127.0.0.1:1", grpc.credentials.createInsecure(), { "grpc.service_config": config.replace('"UNAVAILABLE"', '"NOT_A_CODE"') })).toThrow();
  });
});
