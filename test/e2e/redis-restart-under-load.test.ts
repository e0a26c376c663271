import { Code } from "@connectrpc/connect";
import { expect, it, onTestFinished } from "vitest";
import { QueueService, QueueState, TicketState, type Ticket } from "../../gen/boxoffice/v1/queue_pb.js";
import { HoldState, SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { holdSeats, watchPosition } from "../../src/client/index.js";
import { holdRequestKey } from "../../src/seats/keys.js";
import { DurableRedis } from "../feed/aof-redis.js";
import { expectConsistent } from "../seats/invariant.js";
import { expectUnavailable, failureOf, pull, ServingStatus } from "../support/outage.js";
import { uniqueId } from "../support/redis.js";
import { startServer } from "./server.js";

/**
 * Redis goes away twice while callers Join, HoldSeats and ConfirmHold
 * concurrently and watch their places: first frozen (SIGSTOP), so the calls
 * in flight time out with an unknown outcome and Redis runs them when it
 * thaws; then killed (SIGKILL) and started again on its port with its data
 * (`appendfsync always`). Every failure is UNAVAILABLE / BACKEND_UNAVAILABLE,
 * the open streams end UNAVAILABLE, the same service process serves again
 * once Redis is back, `watchPosition` resumes on its own, and retrying every
 * call whose outcome was unknown, with the same request id and order id,
 * converges: one ticket per user, one hold of one seat per user, no seat held
 * or sold twice. Every wait is for an observable event (a health status, a
 * count of calls, a stream's end); nothing sleeps.
 */

const WORKERS = 8;
const CALL = { timeoutMs: 5_000 };
const SEATS = { sectionId: "A", rows: Array.from({ length: 20 }, (_, r) => ({ rowId: `R${r + 1}`, seatIds: Array.from({ length: 50 }, (_, s) => `A-${r + 1}-${s + 1}`) })) };

/** A count that can be awaited: `reach(n)` resolves once it is at least n. */
function counter() {
  let value = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    get value() {
      return value;
    },
    add(): void {
      value += 1;
      for (const w of waiters.filter((w) => w.n <= value)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
    reach(n: number): Promise<void> {
      return value >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

/** A signal raised once. */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

type Step = "join" | "hold" | "confirm";
const STEPS: readonly Step[] = ["join", "hold", "confirm"];
const ONE_SEAT = { case: "bestAvailable" as const, value: { sectionId: "A", quantity: 1 } };

it("survives a Redis kill and restart under load: UNAVAILABLE only, streams end, the same process recovers, retries converge", async () => {
  const durable = await DurableRedis.start();
  onTestFinished(() => durable.stop());
  const server = await startServer(
    { REDIS_COMMAND_TIMEOUT_MS: "1000", REDIS_HEALTH_INTERVAL_MS: "100", ADMIT_INTERVAL_MS: "50" },
    { redisUrl: durable.url },
  );
  onTestFinished(() => server.stop());
  const queue = server.client(QueueService);
  const queueOverConnect = server.client(QueueService, server.transports["connect-port/connect"]);
  const seats = server.client(SeatService);
  const healthClient = server.client(Health);
  /** Resolves once the server reports `status` (a fresh Watch: its first message is the status now). */
  const healthBecomes = async (status: ServingStatus): Promise<void> => {
    const done = new AbortController();
    try {
      for await (const { status: now } of healthClient.watch({ service: "" }, { signal: done.signal })) if (now === status) return;
    } finally {
      done.abort();
    }
  };
  const eventId = uniqueId();
  await queue.configureQueue({ eventId, state: QueueState.PAUSED, admitRatePerSec: 1000, admitBurst: 1000 });
  await seats.loadSeatMap({ eventId, sections: [SEATS], maxSeatsPerUser: 2 });
  await healthBecomes(ServingStatus.SERVING);

  // Watchers, in line before the load starts: raw streams on both ports, and the client's resuming helper.
  await queue.join({ eventId, userId: "watcher-1" });
  await queue.join({ eventId, userId: "watcher-2" });
  const rawStreams = [
    pull(queue.watchPosition({ eventId, userId: "watcher-1" }, { timeoutMs: 60_000 })),
    pull(queueOverConnect.watchPosition({ eventId, userId: "watcher-2" }, { timeoutMs: 60_000 })),
  ];
  for (const stream of rawStreams) expect((await stream.next()).ticket?.state).toBe(TicketState.WAITING);
  await queue.join({ eventId, userId: "resumer" });
  const reconnects: string[] = [];
  const resumerTickets: Ticket[] = [];
  const firstTicket = counter();
  const resumer = (async () => {
    const watch = watchPosition({
      eventId,
      userId: "resumer",
      transports: server.transports["grpc-port/grpc"],
      backoff: { initialMs: 10, maxMs: 100 },
      onReconnect: ({ error }) => reconnects.push(`${Code[error.code]}/${failureOf(error).reason}`),
    });
    for await (const ticket of watch) {
      resumerTickets.push(ticket);
      firstTicket.add();
    }
  })();
  await firstTicket.reach(1);

  // The load: each worker takes new users through Join, HoldSeats and ConfirmHold, one call at a time.
  // A worker whose call fails notes it and waits for the end of that outage.
  const successes = counter();
  const outages = [{ failed: counter(), over: latch() }, { failed: counter(), over: latch() }] as const;
  let outage: 0 | 1 = 0;
  const failures: Array<ReturnType<typeof failureOf> & { step: Step; outage: number; userId: string }> = [];
  /** Per user, the first step not known to have happened. */
  const unfinished = new Map<string, Step>();
  const unfinishedJoins = new Set<string>();
  const users: string[] = [];
  const holdIds = new Map<string, string>();
  /** Users who only join, so that the workers run out of step: each outage then finds every kind of call in flight. */
  const joinOnly: string[] = [];
  let stop = false;
  const worker = async (w: number) => {
    const failedIn = new Set<number>();
    const outOfStep = async () => {
      for (let i = 0; i < w % STEPS.length; i++) {
        const userId = `w${w}-j${joinOnly.length}`;
        joinOnly.push(userId);
        try {
          await queue.join({ eventId, userId }, CALL);
          successes.add();
        } catch (err) {
          // Only if Redis went away again, e.g. health flapping on a saturated machine: retried below like any other.
          failures.push({ ...failureOf(err), step: "join", outage, userId });
          unfinishedJoins.add(userId);
        }
      }
    };
    await outOfStep();
    for (let n = 0; !stop; n++) {
      const userId = `w${w}-u${n}`;
      users.push(userId);
      for (const step of STEPS) {
        try {
          if (step === "join") await queue.join({ eventId, userId }, CALL);
          else if (step === "hold") holdIds.set(userId, (await seats.holdSeats({ eventId, userId, requestId: `req-${userId}`, selection: ONE_SEAT }, CALL)).hold!.holdId);
          else await seats.confirmHold({ eventId, userId, holdId: holdIds.get(userId)!, orderId: `order-${userId}` }, CALL);
          successes.add();
        } catch (err) {
          const during = outage;
          failures.push({ ...failureOf(err), step, outage: during, userId });
          unfinished.set(userId, step);
          if (!failedIn.has(during)) outages[during].failed.add();
          failedIn.add(during);
          await outages[during].over.opened;
          await outOfStep();
          break;
        }
      }
    }
  };
  const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
  await successes.reach(60);

  // First Redis freezes: the calls in flight time out with an unknown outcome, and run when it thaws.
  durable.freeze();
  await outages[0].failed.reach(WORKERS);
  durable.thaw();
  // Answered in order on the service's connection: whatever it sent before has run, and is on disk.
  await server.redis.ping();
  await healthBecomes(ServingStatus.SERVING);
  outage = 1;
  outages[0].over.open();
  await successes.reach(successes.value + 60);

  // Then it is killed.
  await durable.kill();

  await healthBecomes(ServingStatus.NOT_SERVING);
  for (const stream of rawStreams) await expectUnavailable(stream.next());
  await outages[1].failed.reach(WORKERS);
  expect(failures.length).toBeGreaterThanOrEqual(2 * WORKERS);

  await durable.boot();

  await healthBecomes(ServingStatus.SERVING);
  outages[1].over.open();
  await successes.reach(successes.value + 60);
  stop = true;
  await Promise.all(workers);

  // Nothing but UNAVAILABLE / BACKEND_UNAVAILABLE, whether the call never reached Redis or its outcome is unknown.
  for (const failure of failures) {
    expect({ code: failure.code, reason: failure.reason }).toEqual({ code: Code[Code.Unavailable], reason: "BACKEND_UNAVAILABLE" });
    expect(["NOT_APPLIED", "UNKNOWN"]).toContain(failure.outcome);
  }

  // What the frozen Redis ran after its callers gave up is there, on disk, across the kill: those retries must converge on it.
  for (const f of failures.filter((f) => f.outage === 0 && f.outcome === "UNKNOWN")) {
    if (f.step === "join") expect((await queue.getPosition({ eventId, userId: f.userId })).ticket?.state).toBe(TicketState.WAITING);
    else if (f.step === "hold") expect(await server.redis.exists(holdRequestKey(server.app.config.redisKeyPrefix, eventId, f.userId, `req-${f.userId}`))).toBe(1);
    else expect((await seats.getHold({ eventId, userId: f.userId, holdId: holdIds.get(f.userId)! })).hold?.state).toBe(HoldState.CONFIRMED);
  }

  for (const userId of unfinishedJoins) await queue.join({ eventId, userId });

  // Every unfinished user is finished by retrying from the step that failed, with the same request and order ids.
  for (const [userId, from] of unfinished) {
    for (const step of STEPS.slice(STEPS.indexOf(from))) {
      if (step === "join") await queue.join({ eventId, userId });
      else if (step === "hold") {
        const { hold } = await holdSeats(seats, { eventId, userId, requestId: `req-${userId}`, selection: ONE_SEAT });
        expect(hold?.state === HoldState.HELD || hold?.state === HoldState.CONFIRMED).toBe(true);
        holdIds.set(userId, hold!.holdId);
      } else {
        const { hold } = await seats.confirmHold({ eventId, userId, holdId: holdIds.get(userId)!, orderId: `order-${userId}` });
        expect(hold).toMatchObject({ state: HoldState.CONFIRMED, orderId: `order-${userId}` });
      }
    }
  }

  // One ticket per user (the watchers' included), from before the kill (on disk) and after.
  const stats = (await queue.getQueueStats({ eventId })).stats;
  const tickets = users.length + joinOnly.length + 3;
  expect(stats).toMatchObject({ waiting: tickets, joinedTotal: tickets, admittedTotal: 0 });
  // One hold of one seat per user, each sold under the user's order; no seat twice.
  const k = server.app.seats.keys(eventId);
  await expectConsistent(server.redis, k);
  expect(await server.redis.hlen(k.holds)).toBe(users.length);
  const perUser = await server.redis.hgetall(k.users);
  expect(Object.keys(perUser).sort()).toEqual([...users].sort());
  expect(new Set(Object.values(perUser))).toEqual(new Set(["1"]));
  expect((await seats.getAvailability({ eventId })).availability?.event).toMatchObject({ held: 0, sold: users.length });
  for (const userId of users) {
    const { hold } = await seats.getHold({ eventId, userId, holdId: holdIds.get(userId)! });
    expect(hold).toMatchObject({ state: HoldState.CONFIRMED, orderId: `order-${userId}`, quantity: 1 });
  }

  // The helper reconnected through the outage, on its own, and follows the ticket to its end.
  expect(reconnects.length).toBeGreaterThan(0);
  for (const r of reconnects) expect(r).toBe("Unavailable/BACKEND_UNAVAILABLE");
  await queue.configureQueue({ eventId, state: QueueState.OPEN });
  await resumer;
  expect(resumerTickets[0]?.state).toBe(TicketState.WAITING);
  expect(resumerTickets.at(-1)?.state).toBe(TicketState.ADMITTED);
}, 120_000);
