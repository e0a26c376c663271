import { Writable } from "node:stream";
import { Redis } from "ioredis";
import pino from "pino";
import { describe, expect, it, onTestFinished } from "vitest";
import { QueueService, QueueState, TicketState, type WatchPositionResponse } from "../../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { startOwnRedis } from "../support/own-redis.js";
import { expectUnavailable, pull, ServingStatus } from "../support/outage.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

/**
 * A watch loop's tick fails while Redis stays up: `CLIENT PAUSE … WRITE` on
 * a redis-server of the test's own holds every script call (the tick script
 * among them) while plain reads and PINGs are answered, so the tick times out
 * (REDIS_COMMAND_TIMEOUT_MS) and health stays SERVING. The health monitor
 * pings once a minute here, so no ping is queued behind a held script and
 * the only judge of the failure is the watch loop itself. Every wait is for
 * an observable event (a log line, a message, a stream's end); nothing sleeps.
 */

const WATCHERS = 12;

interface LogLine {
  readonly msg: string;
  readonly eventId?: string;
}

/** The server's log lines, and a way to wait for one. */
function logSink() {
  const lines: LogLine[] = [];
  const waiters: Array<{ match: (line: LogLine) => boolean; resolve: () => void }> = [];
  let partial = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      partial += chunk.toString("utf8");
      const complete = partial.split("\n");
      partial = complete.pop() ?? "";
      for (const text of complete.filter((t) => t !== "")) {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        for (const waiter of waiters.filter((w) => w.match(line))) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
      done();
    },
  });
  return {
    logger: pino({ level: "info" }, stream),
    lines,
    /** Resolves at the first line (already written or to come) with this message about this event. */
    until(msg: string, eventId: string): Promise<void> {
      const match = (line: LogLine): boolean => line.msg === msg && line.eventId === eventId;
      return lines.some(match) ? Promise.resolve() : new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

async function setUp(graceMs: number) {
  const redis = await startOwnRedis();
  onTestFinished(() => redis.stop());
  const admin = new Redis(redis.url);
  onTestFinished(async () => {
    await admin.client("UNPAUSE");
    admin.disconnect();
  });
  const log = logSink();
  const server: RunningServer = await startServer(
    // The default command timeout, so that a busy test machine does not read as a failure before the pause.
    { REDIS_COMMAND_TIMEOUT_MS: "1000", REDIS_HEALTH_INTERVAL_MS: "60000", WATCH_RETRY_GRACE_MS: String(graceMs) },
    { redisUrl: redis.url, logger: log.logger },
  );
  onTestFinished(() => server.stop());
  // Redis answers the monitor (its next ping of its own is a minute away).
  expect(await server.app.redisMonitor.check()).toBe(true);
  const queue = server.client(QueueService);
  const eventId = uniqueId();
  await queue.configureQueue({ eventId, state: QueueState.PAUSED });
  const users = Array.from({ length: WATCHERS }, (_, i) => `u${i + 1}`);
  for (const userId of users) await queue.join({ eventId, userId });
  // Every stream on the server's one gRPC connection.
  const streams = users.map((userId) => pull(queue.watchPosition({ eventId, userId }, { timeoutMs: 60_000 })));
  const first = await Promise.all(streams.map((s) => s.next()));
  expect(first.map((m) => m.ticket?.position)).toEqual(users.map((_, i) => i + 1));
  return {
    server,
    queue,
    eventId,
    users,
    streams,
    log,
    /** Holds every write (scripts included) until `resume`; reads and PINGs are still answered. */
    pauseWrites: () => admin.client("PAUSE", 600_000, "WRITE"),
    resume: () => admin.client("UNPAUSE"),
  };
}

describe("a watch loop whose tick fails", () => {
  it("keeps its streams through a transient failure, and every watcher then gets its exact next place", async () => {
    const t = await setUp(60_000);
    await t.pauseWrites();
    // The caller's Leave times out (its outcome unknown) and Redis runs it when it resumes.
    const leave = t.queue.leave({ eventId: t.eventId, userId: "u1" }, { timeoutMs: 5_000 });
    await expectUnavailable(leave);
    await t.log.until("watch tick failed, retrying", t.eventId);
    await t.resume();
    await t.log.until("watch tick recovered", t.eventId);

    // The leave is applied once: u1's stream ends LEFT, everyone behind moves up by exactly one.
    const [head, ...rest] = t.streams;
    const left = await head?.next();
    expect(left?.ticket?.state).toBe(TicketState.LEFT);
    const next: WatchPositionResponse[] = await Promise.all(rest.map((s) => s.next()));
    expect(next.map((m) => m.ticket?.position)).toEqual(rest.map((_, i) => i + 1));
    // And they keep following: the next one to leave moves the rest again.
    await t.queue.leave({ eventId: t.eventId, userId: "u2" });
    const [, ...behind] = rest;
    const after = await Promise.all(behind.map((s) => s.next()));
    expect(after.map((m) => m.ticket?.position)).toEqual(behind.map((_, i) => i + 1));
    expect(t.server.app.hub.streams(t.eventId)).toBe(WATCHERS - 2);
    // The monitor never called Redis gone: the loop alone rode the failure out.
    expect(t.server.app.health.get("")).toBe(ServingStatus.SERVING);
  });

  it("ends its streams UNAVAILABLE once the failure outlasts WATCH_RETRY_GRACE_MS", async () => {
    const t = await setUp(2_000);
    const seats = t.server.client(SeatService);
    await seats.loadSeatMap({ eventId: t.eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A-1", "A-2"] }] }] });
    const availability = pull(seats.watchAvailability({ eventId: t.eventId }, { timeoutMs: 60_000 }));
    expect((await availability.next()).availability?.event?.available).toBe(2);
    await t.pauseWrites();
    await t.log.until("watch tick failed, retrying", t.eventId);
    for (const stream of t.streams) await expectUnavailable(stream.next());
    await expectUnavailable(availability.next());
    await t.log.until("watch loop tick failed", t.eventId);
    // Redis answered PINGs throughout: the loop's grace, not the monitor, ended them.
    expect(t.server.app.health.get("")).toBe(ServingStatus.SERVING);
    await t.server.app.hub.stopped(t.eventId);
    expect(t.server.app.hub.streams(t.eventId)).toBe(0);
  });
});
