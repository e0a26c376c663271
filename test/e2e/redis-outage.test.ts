import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { QueueService, QueueState, TicketState, type WatchPositionResponse } from "../../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { startOwnRedis, type OwnRedis } from "../support/own-redis.js";
import { uniqueId } from "../support/redis.js";
import { pull } from "../support/outage.js";
import { startServer, type RunningServer } from "./server.js";

/**
 * A Redis outage seen from a real client over real ports: the app runs
 * in-process over a redis-server of each test's own, which the test kills,
 * restarts or freezes. Every wait is for an observable event (a health
 * status, a stream's end); nothing sleeps.
 */

/** Generous: a call that fails fast ends with UNAVAILABLE long before it. */
const DEADLINE_MS = 5_000;

async function setUp(): Promise<{ redis: OwnRedis; server: RunningServer }> {
  const redis = await startOwnRedis();
  onTestFinished(() => redis.stop());
  const server = await startServer(
    // The default command timeout, so that a busy test machine does not read as an outage.
    { REDIS_COMMAND_TIMEOUT_MS: "1000", REDIS_HEALTH_INTERVAL_MS: "100", ADMIT_INTERVAL_MS: "50" },
    { redisUrl: redis.url },
  );
  onTestFinished(() => server.stop());
  return { redis, server };
}

/** A Health Watch stream of the whole server. */
function watchHealth(client: Client<typeof Health>) {
  const stream = pull(client.watch({ service: "" }));
  return {
    /** Resolves at the first status equal to `wanted` (statuses are coalesced, so earlier ones may be skipped). */
    async until(wanted: ServingStatus): Promise<void> {
      while ((await stream.next()).status !== wanted);
    },
  };
}

/**
 * Asserts that a call or stream read failed with UNAVAILABLE / BACKEND_UNAVAILABLE
 * and resolves with the outcome it reports (`NOT_APPLIED` or `UNKNOWN`).
 */
async function expectUnavailable(pending: Promise<unknown>): Promise<string | undefined> {
  const err = await pending.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
  const info = err.findDetails(ErrorInfoSchema)[0];
  expect({ code: Code[err.code], reason: info?.reason }).toEqual({ code: Code[Code.Unavailable], reason: "BACKEND_UNAVAILABLE" });
  return info?.metadata["outcome"];
}

/** The last message of a WatchPosition stream that must end by admitting its user. */
async function admittedAtEnd(stream: AsyncIterable<WatchPositionResponse>): Promise<void> {
  const messages = await pull(stream).rest();
  expect(messages.at(-1)?.ticket?.state).toBe(TicketState.ADMITTED);
  expect(messages.at(-1)?.ticket?.pass).not.toBe("");
}

describe("Redis outage", () => {
  it("killed: calls fail fast, health turns NOT_SERVING, streams end; restarted on its port: everything works again", async () => {
    const { redis, server } = await setUp();
    const queue = server.client(QueueService);
    const queueOverConnect = server.client(QueueService, server.transports["connect-port/connect"]);
    const seats = server.client(SeatService);
    const healthPorts = [server.client(Health), server.client(Health, server.transports["connect-port/connect"])];
    const eventId = uniqueId();
    await queue.configureQueue({ eventId, state: QueueState.PAUSED });
    await queue.join({ eventId, userId: "waiter" });
    await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A-1"] }] }] });
    const position = pull(queue.watchPosition({ eventId, userId: "waiter" }, { timeoutMs: 20_000 }));
    const positionOverConnect = pull(queueOverConnect.watchPosition({ eventId, userId: "waiter" }, { timeoutMs: 20_000 }));
    const availability = pull(seats.watchAvailability({ eventId }, { timeoutMs: 20_000 }));
    expect((await position.next()).ticket?.state).toBe(TicketState.WAITING);
    expect((await positionOverConnect.next()).ticket?.state).toBe(TicketState.WAITING);
    await availability.next();
    const health = healthPorts.map(watchHealth);
    for (const port of health) await port.until(ServingStatus.SERVING);

    await redis.kill();

    for (const port of health) await port.until(ServingStatus.NOT_SERVING);
    for (const client of healthPorts) expect((await client.check({})).status).toBe(ServingStatus.NOT_SERVING);
    await expectUnavailable(position.next());
    await expectUnavailable(positionOverConnect.next());
    await expectUnavailable(availability.next());
    // Refused without touching Redis, on both ports.
    expect(await expectUnavailable(queue.join({ eventId, userId: "late" }, { timeoutMs: DEADLINE_MS }))).toBe("NOT_APPLIED");
    expect(await expectUnavailable(queueOverConnect.join({ eventId, userId: "late" }, { timeoutMs: DEADLINE_MS }))).toBe("NOT_APPLIED");
    await expectUnavailable(seats.getAvailability({ eventId }, { timeoutMs: DEADLINE_MS }));
    await expectUnavailable(pull(queue.watchPosition({ eventId, userId: "waiter" }, { timeoutMs: DEADLINE_MS })).next());

    await redis.restart();

    for (const port of health) await port.until(ServingStatus.SERVING);
    // The new server is empty (no persistence): the event starts over, and the admitter lets people in again.
    await queue.configureQueue({ eventId, admitRatePerSec: 100 });
    const joined = await queue.join({ eventId, userId: "again" });
    expect(joined.newlyJoined).toBe(true);
    await admittedAtEnd(queue.watchPosition({ eventId, userId: "again" }));
    expect((await queueOverConnect.getQueueStats({ eventId })).stats?.admittedTotal).toBe(1);
  });

  it("frozen (SIGSTOP): calls fail fast rather than hang, health turns NOT_SERVING, streams end; thawed: everything works again", async () => {
    const { redis, server } = await setUp();
    const queue = server.client(QueueService);
    const health = watchHealth(server.client(Health));
    const eventId = uniqueId();
    await queue.configureQueue({ eventId, state: QueueState.PAUSED, admitRatePerSec: 100 });
    await queue.join({ eventId, userId: "first" });
    const position = pull(queue.watchPosition({ eventId, userId: "first" }, { timeoutMs: 20_000 }));
    expect((await position.next()).ticket?.position).toBe(1);
    await health.until(ServingStatus.SERVING);

    redis.freeze();
    try {
      // Most likely written to the frozen Redis before anyone noticed: fails on the command timeout.
      await expectUnavailable(queue.join({ eventId, userId: "second" }, { timeoutMs: DEADLINE_MS }));
      await health.until(ServingStatus.NOT_SERVING);
      await expectUnavailable(position.next());
      // Refused without touching Redis.
      expect(await expectUnavailable(queue.join({ eventId, userId: "second" }, { timeoutMs: DEADLINE_MS }))).toBe("NOT_APPLIED");
      await expectUnavailable(queue.getPosition({ eventId, userId: "first" }, { timeoutMs: DEADLINE_MS }));
    } finally {
      redis.thaw();
    }

    await health.until(ServingStatus.SERVING);
    // The Join that failed may have taken effect when Redis resumed; its retry converges on one place.
    const retried = await queue.join({ eventId, userId: "second" });
    expect(retried.ticket).toMatchObject({ state: TicketState.WAITING, position: 2, waitingTotal: 2 });
    const watch = queue.watchPosition({ eventId, userId: "second" });
    await queue.configureQueue({ eventId, state: QueueState.OPEN });
    await admittedAtEnd(watch);
    expect((await queue.getQueueStats({ eventId })).stats).toMatchObject({ waiting: 0, admittedTotal: 2 });
  });

  it("draining wins: once shutting down, health stays NOT_SERVING when Redis comes back", async () => {
    const { redis, server } = await setUp();
    const health = watchHealth(server.client(Health));
    await health.until(ServingStatus.SERVING);
    await redis.kill();
    await health.until(ServingStatus.NOT_SERVING);
    await server.app.shutdown();

    const ready = new Promise<void>((resolve) => server.redis.once("ready", () => resolve()));
    await redis.restart();
    await ready;
    expect(await server.app.redisMonitor.check()).toBe(true);
    expect(server.app.health.get("")).toBe(ServingStatus.NOT_SERVING);
    expect(server.app.health.get(QueueService.typeName)).toBe(ServingStatus.NOT_SERVING);
  });
});
