import { Code } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { HoldState, SeatService, holdSeats, newRequestId, withRequestId, type HoldSeatsResponse } from "../../src/client/index.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { startServer } from "../e2e/server.js";
import { startOwnRedis } from "../support/own-redis.js";
import { failureOf, ServingStatus, watchHealth } from "../support/outage.js";
import { uniqueId } from "../support/redis.js";

describe("request ids", () => {
  it("are fresh, and pass the server's validation", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newRequestId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/);
  });

  it("are filled in only when the request has none", () => {
    const selection = { case: "seats" as const, value: { seatIds: ["A-1"] } };
    expect(withRequestId({ eventId: "e", userId: "u", requestId: "mine", selection }).requestId).toBe("mine");
    expect(withRequestId({ eventId: "e", userId: "u", selection }).requestId).toMatch(/^r[0-9a-f]{32}$/);
    expect(withRequestId({ eventId: "e", userId: "u", requestId: "", selection }).requestId).toMatch(/^r[0-9a-f]{32}$/);
  });
});

/**
 * The unknown outcome for real: Redis is frozen (SIGSTOP) right after the
 * helper's first attempt went out, so that attempt fails, and Redis runs the
 * hold when it resumes. The helper's retry must find that hold, not make a
 * second one.
 */
describe("holdSeats", () => {
  it.each([
    { name: "UNAVAILABLE (the server's Redis command timed out)", attemptTimeoutMs: undefined, code: "Unavailable" },
    { name: "DEADLINE_EXCEEDED (the attempt's own deadline)", attemptTimeoutMs: 300, code: "DeadlineExceeded" },
  ])("retries an attempt that failed $name under the same request id, converging on one hold", async ({ attemptTimeoutMs, code }) => {
    const redis = await startOwnRedis();
    onTestFinished(() => redis.stop());
    const server = await startServer({ REDIS_COMMAND_TIMEOUT_MS: "1000", REDIS_HEALTH_INTERVAL_MS: "100" }, { redisUrl: redis.url });
    onTestFinished(() => server.stop());
    const seats = server.client(SeatService);
    const healthCheck = server.client(Health);
    const eventId = uniqueId();
    await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A-1", "A-2", "A-3"] }] }], maxSeatsPerUser: 2 });
    while ((await healthCheck.check({})).status !== ServingStatus.SERVING);
    const holds = server.app.seats.keys(eventId).holds;

    const retries: Array<{ code: string; outcome: string | undefined }> = [];
    redis.freeze();
    const response: HoldSeatsResponse = await holdSeats(
      seats,
      { eventId, userId: "ann", selection: { case: "bestAvailable", value: { sectionId: "A", quantity: 2 } } },
      {
        attemptTimeoutMs,
        maxAttempts: 20,
        backoff: { initialMs: 10, maxMs: 50 },
        onRetry: async ({ error }) => {
          const failure = failureOf(error);
          retries.push({ code: failure.code, outcome: failure.outcome });
          if (retries.length > 1) return;
          // The first attempt reached Redis before it froze: once it runs again, so does that hold.
          redis.thaw();
          while ((await server.redis.hlen(holds)) === 0);
          while ((await healthCheck.check({})).status !== ServingStatus.SERVING);
        },
      },
    );

    expect(retries[0]?.code).toBe(code);
    expect(response.hold).toMatchObject({ userId: "ann", seatIds: ["A-1", "A-2"], state: HoldState.HELD });
    // One hold only: the one the failed attempt made, which the retry returned.
    expect(Object.keys(await server.redis.hgetall(holds))).toEqual([response.hold?.holdId]);
    expect((await seats.getAvailability({ eventId })).availability?.event).toMatchObject({ available: 1, held: 2 });
  });

  it("does not retry an answer, and gives up after maxAttempts", async () => {
    const redis = await startOwnRedis();
    onTestFinished(() => redis.stop());
    const server = await startServer({ REDIS_COMMAND_TIMEOUT_MS: "1000", REDIS_HEALTH_INTERVAL_MS: "100" }, { redisUrl: redis.url });
    onTestFinished(() => server.stop());
    const seats = server.client(SeatService);
    const request = { eventId: uniqueId(), userId: "ann", selection: { case: "seats" as const, value: { seatIds: ["A-1"] } } };
    let retried = 0;
    const onRetry = () => {
      retried += 1;
    };
    expect(failureOf(await holdSeats(seats, request, { onRetry }).catch((e: unknown) => e))).toMatchObject({ code: "NotFound", reason: "SEAT_MAP_NOT_FOUND" });
    expect(retried).toBe(0);

    const health = watchHealth(server.client(Health));
    await redis.kill();
    await health.until(ServingStatus.NOT_SERVING);
    const failure = failureOf(await holdSeats(seats, request, { onRetry, maxAttempts: 3, backoff: { initialMs: 1, maxMs: 1 } }).catch((e: unknown) => e));
    expect(failure).toEqual({ code: Code[Code.Unavailable], reason: "BACKEND_UNAVAILABLE", outcome: "NOT_APPLIED" });
    expect(retried).toBe(2);
  });
});
