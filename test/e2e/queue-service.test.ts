import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueService, QueueState, TicketState } from "../../gen/boxoffice/v1/queue_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";
import { ticketBucketKey } from "../../src/queue/keys.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

async function failure(promise: Promise<unknown>): Promise<{ code: Code; reason: string | undefined; err: ConnectError }> {
  try {
    await promise;
  } catch (e) {
    const err = ConnectError.from(e);
    return { code: err.code, reason: err.findDetails(ErrorInfoSchema)[0]?.reason, err };
  }
  throw new Error("expected the call to fail");
}

const TRANSPORTS = ["grpc-port/grpc", "connect-port/grpc", "connect-port/connect", "connect-port/grpc-web"] as const;

describe.each(TRANSPORTS)("QueueService over %s", (name) => {
  const client = () => server.client(QueueService, server.transports[name]);

  it("configures, joins in order, reports positions, and leaves", async () => {
    const eventId = uniqueId();
    const configured = await client().configureQueue({ eventId, admitRatePerSec: 5 });
    expect(configured.created).toBe(true);
    expect(configured.config).toMatchObject({ eventId, admitRatePerSec: 5, admitBurst: 5, sessionTtlSeconds: 600, idleTimeoutSeconds: 300, state: QueueState.OPEN });

    const first = await client().join({ eventId, userId: "ann" });
    const second = await client().join({ eventId, userId: "bob" });
    expect(first).toMatchObject({ newlyJoined: true, ticket: { position: 1, state: TicketState.WAITING, eventId, userId: "ann" } });
    expect(first.ticket?.joinedAt?.seconds).toBeGreaterThan(0n);
    expect(first.ticket?.estimatedWaitSeconds).toBeUndefined();
    expect(second.ticket).toMatchObject({ position: 2, waitingTotal: 2 });

    const repeat = await client().join({ eventId, userId: "ann" });
    expect(repeat.newlyJoined).toBe(false);
    expect(repeat.ticket?.joinedAt).toEqual(first.ticket?.joinedAt);

    await client().leave({ eventId, userId: "ann" });
    const position = await client().getPosition({ eventId, userId: "bob" });
    expect(position.ticket).toMatchObject({ position: 1, waitingTotal: 1 });

    const stats = await client().getQueueStats({ eventId });
    expect(stats.stats).toMatchObject({ eventId, waiting: 1, joinedTotal: 2, state: QueueState.OPEN });
  });

  it("maps each expected failure to its code and reason", async () => {
    const eventId = uniqueId();
    expect(await failure(client().join({ eventId, userId: "u" }))).toMatchObject({ code: Code.NotFound, reason: "EVENT_NOT_FOUND" });
    await client().configureQueue({ eventId });
    expect(await failure(client().getPosition({ eventId, userId: "nobody" }))).toMatchObject({ code: Code.NotFound, reason: "NOT_IN_QUEUE" });
    await client().configureQueue({ eventId, state: QueueState.CLOSED });
    expect(await failure(client().join({ eventId, userId: "u" }))).toMatchObject({ code: Code.FailedPrecondition, reason: "QUEUE_CLOSED" });
  });

  it("rejects invalid ids before touching Redis, naming each field", async () => {
    const bad = await failure(client().join({ eventId: "bad{id}", userId: "" }));
    expect(bad).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_REQUEST" });
    const fields = new Set(bad.err.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field));
    expect([...fields].sort()).toEqual(["event_id", "user_id"]);
    const keys = server.app.store.keys("bad{id}");
    expect(await server.redis.exists(keys.config, keys.stats, keys.waiting, ticketBucketKey(keys, ""), keys.log)).toBe(0);

    const config = await failure(client().configureQueue({ eventId: uniqueId(), admitRatePerSec: -1, state: 9 as QueueState }));
    expect(config.code).toBe(Code.InvalidArgument);
    expect(config.err.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field).sort()).toEqual(["admit_rate_per_sec", "state"]);
    expect(await server.app.store.eventIds()).not.toContain("bad{id}");
  });
});

describe("ConfigureQueue edge cases", () => {
  it("refuses opens_at together with clear_opens_at, writing nothing", async () => {
    const client = server.client(QueueService);
    const eventId = uniqueId();
    const result = await failure(client.configureQueue({ eventId, clearOpensAt: true, opensAt: { seconds: 2_000_000_000n } }));
    expect(result).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_REQUEST" });
    expect(await server.redis.exists(server.app.store.keys(eventId).config)).toBe(0);
  });

  it("sets and clears the opening time", async () => {
    const client = server.client(QueueService);
    const eventId = uniqueId();
    const set = await client.configureQueue({ eventId, opensAt: { seconds: 2_000_000_000n, nanos: 500_000_000 } });
    expect(set.config?.opensAt).toMatchObject({ seconds: 2_000_000_000n, nanos: 500_000_000 });
    const kept = await client.configureQueue({ eventId, maxActive: 3 });
    expect(kept.config?.opensAt?.seconds).toBe(2_000_000_000n);
    const cleared = await client.configureQueue({ eventId, clearOpensAt: true });
    expect(cleared.config?.opensAt).toBeUndefined();
  });
});
