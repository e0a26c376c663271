import { Code, ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { HoldState, SeatService, type Hold } from "../../gen/boxoffice/v1/seats_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { scrape } from "../metrics/prom-text.js";
import { startReplicatedRedis, type ReplicatedRedis } from "../support/replicated-redis.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

/**
 * ConfirmHold with REDIS_WAIT_REPLICAS: a primary and a replica of the test's
 * own, the replica paused (SIGSTOP) or killed on purpose.
 */

/**
 * Long enough for a replica that is merely slow to be scheduled (a busy
 * machine) to acknowledge: the OK paths must not depend on a race with it.
 */
const WAIT_TIMEOUT_MS = 2_000;

let redis: ReplicatedRedis;
/** Two instances that wait for one replica, and one that waits for none, all on the primary. */
let waiting: RunningServer;
let otherWaiting: RunningServer;
let notWaiting: RunningServer;

beforeAll(async () => {
  redis = await startReplicatedRedis();
  const env = { REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS), REDIS_KEY_PREFIX: "rw:" };
  [waiting, otherWaiting, notWaiting] = await Promise.all([
    startServer(env, { redisUrl: redis.primaryUrl }),
    startServer(env, { redisUrl: redis.primaryUrl }),
    startServer({ REDIS_KEY_PREFIX: "rw:" }, { redisUrl: redis.primaryUrl }),
  ]);
});

afterAll(async () => {
  await Promise.all([waiting?.stop(), otherWaiting?.stop(), notWaiting?.stop()]);
  await redis?.stop();
});

async function failure(promise: Promise<unknown>): Promise<{ code: Code; reason: string | undefined; metadata: Record<string, string> }> {
  try {
    await promise;
  } catch (e) {
    const err = ConnectError.from(e);
    const info = err.findDetails(ErrorInfoSchema)[0];
    return { code: err.code, reason: info?.reason, metadata: info?.metadata ?? {} };
  }
  throw new Error("expected the call to fail");
}

/** A fresh event with seats A-1..A-4, and a hold of by "ann". */
async function heldSeats(server: RunningServer): Promise<{ eventId: string; hold: Hold }> {
  const seats = server.client(SeatService);
  const eventId = uniqueId();
  await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A-1", "A-2", "A-3", "A-4"] }] }] });
  const { hold } = await seats.holdSeats({ eventId, userId: "ann", selection: { case: "seats", value: { seatIds: ["A-1", "A-2"] } } });
  return { eventId, hold: hold! };
}

/** The hold's record as the replica has it: what a promoted replica would know. */
function onReplica(eventId: string, holdId: string): Promise<string | null> {
  return redis.replicaHget(`rw:{${eventId}}:s:holds`, holdId);
}

async function waitCalls(): Promise<number> {
  const stats = await redis.primary.info("commandstats");
  return Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

/** Resolves once the primary has a client blocked in WAIT (CLIENT LIST), and returns its id. */
async function blockedInWait(primary: Redis = redis.primary): Promise<string> {
  for (;;) {
    const list = (await primary.client("LIST")) as string;
    const line = list.split("\n").find((l) => / cmd=wait\b/.test(l) && / flags=\S*b/.test(l));
    if (line !== undefined) return /\bid=(\d+)/.exec(line)![1]!;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("ConfirmHold with REDIS_WAIT_REPLICAS=1", () => {
  it("answers OK once the replica acknowledged the sale: the replica has it, and the script metrics count it", async () => {
    const { eventId, hold } = await heldSeats(waiting);
    const before = await scrape(waiting.metricsUrl!);
    const sold = await waiting.client(SeatService).confirmHold({ eventId, holdId: hold.holdId, userId: "ann", orderId: "o-1" });
    expect(sold.hold).toMatchObject({ state: HoldState.CONFIRMED, orderId: "o-1", seatIds: ["A-1", "A-2"] });
    // Read right after the answer: WAIT said the replica had it, so it does.
    expect(await onReplica(eventId, hold.holdId)).toMatch(/\|o-1\|A-1,A-2$/);
    // The script run on a waiting connection is observed as one on the shared connection is.
    const after = await scrape(waiting.metricsUrl!);
    expect(after.sum("boxoffice_redis_script_seconds_count", { script: "confirmHold" }) - before.sum("boxoffice_redis_script_seconds_count", { script: "confirmHold" })).toBe(1);
  });

  it("loads the seat library again when Redis lost it, and still waits", async () => {
    const { eventId, hold } = await heldSeats(waiting);
    // A sale first, so the waiting connection has loaded the library before it goes.
    const { hold: other } = await waiting.client(SeatService).holdSeats({ eventId, userId: "bob", selection: { case: "seats", value: { seatIds: ["A-3"] } } });
    await waiting.client(SeatService).confirmHold({ eventId, holdId: other!.holdId, userId: "bob", orderId: "o-b" });
    await redis.primary.function("FLUSH");
    const sold = await waiting.client(SeatService).confirmHold({ eventId, holdId: hold.holdId, userId: "ann", orderId: "o-f" });
    expect(sold.hold).toMatchObject({ state: HoldState.CONFIRMED, orderId: "o-f" });
    expect(await onReplica(eventId, hold.holdId)).toMatch(/\|o-f\|A-1,A-2$/);
  });

  it("answers NOT_REPLICATED while the replica is paused, on a connection of its own, and the same order converges once it is back", async () => {
    // The other instance's connection makes a sale of its own first: its last write then predates the one below.
    const earlier = await heldSeats(otherWaiting);
    await otherWaiting.client(SeatService).confirmHold({ eventId: earlier.eventId, holdId: earlier.hold.holdId, userId: "ann", orderId: "o-0" });

    const { eventId, hold } = await heldSeats(waiting);
    const request = { eventId, holdId: hold.holdId, userId: "ann", orderId: "o-2" };
    redis.pauseReplica();
    try {
      const started = performance.now();
      let settled = false;
      const confirming = failure(waiting.client(SeatService).confirmHold(request)).finally(() => (settled = true));

      // While that WAIT blocks its connection, the shared one still answers.
      const waitClient = await blockedInWait();
      expect(waitClient).not.toBe(String(await waiting.redis.client("ID")));
      const during = await waiting.client(SeatService).getAvailability({ eventId });
      expect(during.availability?.event).toMatchObject({ sold: 2, held: 0 });
      expect(settled).toBe(false);

      expect(await confirming).toMatchObject({
        code: Code.Unavailable,
        reason: "NOT_REPLICATED",
        metadata: { acked: "0", required: "1", hold_id: hold.holdId },
      });
      // WAIT gave the replica its whole timeout before answering.
      expect(performance.now() - started).toBeGreaterThanOrEqual(WAIT_TIMEOUT_MS);
      expect(await waitCalls()).toBeGreaterThan(0);

      // A retry through another instance (whose connections never wrote the sale) is no false OK.
      expect(await failure(otherWaiting.client(SeatService).confirmHold(request))).toMatchObject({
        code: Code.Unavailable,
        reason: "NOT_REPLICATED",
      });
    } finally {
      await redis.resumeReplica();
    }

    const retried = await otherWaiting.client(SeatService).confirmHold(request);
    expect(retried.hold).toMatchObject({ holdId: hold.holdId, state: HoldState.CONFIRMED, orderId: "o-2", seatIds: ["A-1", "A-2"] });
    expect(await onReplica(eventId, hold.holdId)).toMatch(/\|o-2\|A-1,A-2$/);
    // Sold once: two seats sold, two still available.
    const after = await waiting.client(SeatService).getAvailability({ eventId });
    expect(after.availability?.event).toMatchObject({ capacity: 4, sold: 2, held: 0, available: 2 });
  });

  it("answers NOT_REPLICATED while the replica is gone, and the retry answers the same sale once a replica has caught up", async () => {
    const { eventId, hold } = await heldSeats(waiting);
    const request = { eventId, holdId: hold.holdId, userId: "ann", orderId: "o-3" };
    await redis.killReplica();
    try {
      expect(await failure(waiting.client(SeatService).confirmHold(request))).toMatchObject({
        code: Code.Unavailable,
        reason: "NOT_REPLICATED",
        metadata: { required: "1" },
      });
    } finally {
      await redis.restartReplica();
    }
    const retried = await waiting.client(SeatService).confirmHold(request);
    expect(retried.hold).toMatchObject({ holdId: hold.holdId, state: HoldState.CONFIRMED, orderId: "o-3" });
    expect(await onReplica(eventId, hold.holdId)).toMatch(/\|o-3\|A-1,A-2$/);
    const after = await waiting.client(SeatService).getAvailability({ eventId });
    expect(after.availability?.event).toMatchObject({ sold: 2, held: 0, available: 2 });
    // Another order id for the same hold is still refused: one sale per hold.
    expect(await failure(waiting.client(SeatService).confirmHold({ ...request, orderId: "o-other" }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "HOLD_CONFIRMED",
    });
  });
});

describe("ConfirmHold with REDIS_WAIT_REPLICAS when the primary fails while WAIT blocks behind the sale", () => {
  it("answers UNAVAILABLE UNKNOWN when the waiting connection drops, and the retry answers the same sale", async () => {
    const { eventId, hold } = await heldSeats(waiting);
    const request = { eventId, holdId: hold.holdId, userId: "ann", orderId: "o-5" };
    redis.pauseReplica();
    try {
      const confirming = failure(waiting.client(SeatService).confirmHold(request));
      // The script has answered and its WAIT blocks: the connection goes, as it does when its primary is killed.
      await redis.primary.client("KILL", "ID", await blockedInWait());
      expect(await confirming).toMatchObject({ code: Code.Unavailable, reason: "BACKEND_UNAVAILABLE", metadata: { outcome: "UNKNOWN" } });
    } finally {
      await redis.resumeReplica();
    }
    // It did run, as UNKNOWN allowed: the seats are sold.
    const during = await notWaiting.client(SeatService).getAvailability({ eventId });
    expect(during.availability?.event).toMatchObject({ sold: 2, held: 0 });
    // The same request converges on that sale, over a waiting connection that is up.
    const retried = await waiting.client(SeatService).confirmHold(request);
    expect(retried.hold).toMatchObject({ holdId: hold.holdId, state: HoldState.CONFIRMED, orderId: "o-5", seatIds: ["A-1", "A-2"] });
    expect(await onReplica(eventId, hold.holdId)).toMatch(/\|o-5\|A-1,A-2$/);
    const after = await waiting.client(SeatService).getAvailability({ eventId });
    expect(after.availability?.event).toMatchObject({ capacity: 4, sold: 2, held: 0, available: 2 });
  });

  it("answers UNAVAILABLE UNKNOWN when a failover makes the primary a replica, and the sale is on the promoted one", async () => {
    const own = await startReplicatedRedis();
    onTestFinished(() => own.stop());
    // Two replicas asked of a primary that has one: WAIT blocks for as long as its timeout, unless unblocked.
    const server = await startServer({ REDIS_WAIT_REPLICAS: "2", REDIS_WAIT_TIMEOUT_MS: "60000", REDIS_KEY_PREFIX: "rw:" }, { redisUrl: own.primaryUrl });
    onTestFinished(() => server.stop());
    const replica = new Redis(own.replicaUrl);
    onTestFinished(() => replica.disconnect());
    const { eventId, hold } = await heldSeats(server);
    const request = { eventId, holdId: hold.holdId, userId: "ann", orderId: "o-6" };

    const confirming = failure(server.client(SeatService).confirmHold(request));
    await blockedInWait(own.primary);
    // A graceful failover by hand: the replica catches up (a write of this connection, acknowledged,
    // comes after the sale in the replication stream), becomes the primary, and the primary its replica.
    await own.primary.set("rw:caught-up", "1");
    expect(await own.primary.wait(1, 30_000)).toBe(1);
    await replica.replicaof("NO", "ONE");
    const promoted = new URL(own.replicaUrl);
    await own.primary.replicaof(promoted.hostname, Number(promoted.port));

    expect(await confirming).toMatchObject({ code: Code.Unavailable, reason: "BACKEND_UNAVAILABLE", metadata: { outcome: "UNKNOWN" } });
    // The sale ran, and is on the promoted replica.
    expect(await replica.hget(`rw:{${eventId}}:s:holds`, hold.holdId)).toMatch(/\|o-6\|A-1,A-2$/);
  });
});

describe("ConfirmHold with REDIS_WAIT_REPLICAS=0", () => {
  it("sends no WAIT and answers OK even with the replica paused", async () => {
    const { eventId, hold } = await heldSeats(notWaiting);
    const before = await waitCalls();
    redis.pauseReplica();
    try {
      const sold = await notWaiting.client(SeatService).confirmHold({ eventId, holdId: hold.holdId, userId: "ann", orderId: "o-4" });
      expect(sold.hold).toMatchObject({ state: HoldState.CONFIRMED, orderId: "o-4" });
      expect(await waitCalls()).toBe(before);
    } finally {
      await redis.resumeReplica();
    }
  });
});
