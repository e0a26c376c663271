import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ChangeFeedService, SubscribeStart, type ChangeEvent } from "../../gen/boxoffice/v1/feed_pb.js";
import { QueueService, QueueState, TicketState, type Ticket } from "../../gen/boxoffice/v1/queue_pb.js";
import { HoldState, SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { consume } from "../../src/client/consume.js";
import { watchPosition } from "../../src/client/watch-position.js";
import { eventLogKey } from "../../src/redis/event-log.js";
import { startInstance, type InstanceProcess } from "../support/instance-process.js";
import { connectRedis, redisUrl, uniqueId } from "../support/redis.js";

/**
 * Two service processes over one Redis: whatever one instance did, the other
 * sees; their admitters together keep the configured pace and cap; a change
 * feed group spans both; and when one drains, clients carry on with the other.
 */

const PREFIX = `t${randomBytes(6).toString("hex")}:`;
/**
 * The admitters' pauses between ticks, unequal on purpose: two processes
 * started together with equal pauses tick almost in step, so whichever ticks
 * a millisecond earlier takes nearly every token (in a model of this test,
 * one of them admitted nobody in 0.7% of runs). With these two their order
 * keeps changing, and either is first after a token often.
 */
const ADMIT_INTERVAL_MS = { a: 50, b: 35 };

let a: InstanceProcess;
let b: InstanceProcess;
const redis = connectRedis();

beforeAll(async () => {
  const env = {
    REDIS_URL: redisUrl(),
    REDIS_KEY_PREFIX: PREFIX,
    PASS_KEYS: `k1:${"p".repeat(32)}`,
    WATCH_INTERVAL_MS: "50",
    FEED_POLL_MS: "20",
    SHUTDOWN_GRACE_MS: "2000",
    // The admitter reports each tick's admissions at debug.
    LOG_LEVEL: "debug",
  };
  [a, b] = await Promise.all([
    startInstance({ ...env, ADMIT_INTERVAL_MS: String(ADMIT_INTERVAL_MS.a) }),
    startInstance({ ...env, ADMIT_INTERVAL_MS: String(ADMIT_INTERVAL_MS.b) }),
  ]);
}, 60_000);

afterAll(() => {
  a?.kill();
  b?.kill();
  redis.disconnect();
});

const queue = (instance: InstanceProcess) => createClient(QueueService, instance.transport);
const seats = (instance: InstanceProcess) => createClient(SeatService, instance.transport);
const feed = (instance: InstanceProcess) => createClient(ChangeFeedService, instance.transport);

interface Entry {
  readonly id: string;
  readonly ms: number;
  readonly type: string;
  readonly user: string;
}

/** Reads the event's outbox (as Redis ordered it) until `done` says enough, blocking on XREAD between reads. */
async function outboxUntil(eventId: string, done: (entries: readonly Entry[]) => boolean): Promise<Entry[]> {
  const key = eventLogKey(PREFIX, eventId);
  const entries: Entry[] = [];
  let last = "0";
  const reader = connectRedis();
  try {
    while (!done(entries)) {
      const reply = await reader.xread("COUNT", 1000, "BLOCK", 5000, "STREAMS", key, last);
      for (const [id, fields] of reply?.[0]?.[1] ?? []) {
        const field = (name: string): string => fields[fields.indexOf(name) + 1] ?? "";
        entries.push({ id, ms: Number(id.split("-")[0]), type: field("type"), user: field("user") });
        last = id;
      }
    }
    return entries;
  } finally {
    reader.disconnect();
  }
}

const admissions = (entries: readonly Entry[]) => entries.filter((e) => e.type === "queue.admitted");

/** Users an instance's admitter let in so far, from its debug log of each tick. */
function admittedBy(instance: InstanceProcess): number {
  return instance.logs.filter((l) => l.msg === "admission tick").reduce((sum, l) => sum + Number(l["admitted"] ?? 0), 0);
}

function reasonOf(error: unknown): string | undefined {
  return ConnectError.from(error).findDetails(ErrorInfoSchema)[0]?.reason;
}

describe("two instances over one Redis", () => {
  it("a user joins through one instance, watches and holds seats through the other", async () => {
    const eventId = uniqueId();
    await queue(a).configureQueue({ eventId, state: QueueState.PAUSED });
    await seats(a).loadSeatMap({ eventId, requirePass: true, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A-1", "A-2"] }] }] });
    await queue(a).join({ eventId, userId: "early" });
    const joined = await queue(a).join({ eventId, userId: "ann" });
    expect(joined.ticket).toMatchObject({ position: 2, state: TicketState.WAITING });

    const stream = queue(b).watchPosition({ eventId, userId: "ann" })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.ticket).toMatchObject({ position: 2, joinedAt: joined.ticket?.joinedAt });
    await queue(a).leave({ eventId, userId: "early" });
    expect((await stream.next()).value?.ticket?.position).toBe(1);
    await queue(b).configureQueue({ eventId, state: QueueState.OPEN });
    let ticket: Ticket | undefined;
    do {
      ticket = (await stream.next()).value?.ticket;
    } while (ticket?.state !== TicketState.ADMITTED);
    await stream.return?.();

    const { hold } = await seats(b).holdSeats({ eventId, userId: "ann", pass: ticket.pass!.token, selection: { case: "seats", value: { seatIds: ["A-1"] } } });
    expect(hold).toMatchObject({ state: HoldState.HELD, seatIds: ["A-1"] });
    const sold = await seats(a).confirmHold({ eventId, userId: "ann", holdId: hold!.holdId, orderId: "o-1" });
    expect(sold.hold?.state).toBe(HoldState.CONFIRMED);
  });

  it("both admitters together admit no faster than the token bucket allows", async () => {
    const eventId = uniqueId();
    const rate = 10;
    const burst = 2;
    const users = 24;
    await queue(a).configureQueue({ eventId, state: QueueState.PAUSED, admitRatePerSec: rate, admitBurst: burst, maxActive: 0 });
    for (let i = 0; i < users; i++) {
      await queue(i % 2 === 0 ? a : b).join({ eventId, userId: `u${i}` });
    }
    const before = [admittedBy(a), admittedBy(b)];
    await queue(b).configureQueue({ eventId, state: QueueState.OPEN });
    const admitted = admissions(await outboxUntil(eventId, (entries) => admissions(entries).length >= users));

    // In Redis's order and clock: any run of admissions from the i-th to the j-th fits in the bucket
    // (burst, plus the rate over the time between them; one more for the clock's millisecond grain).
    // Two admitters each spending their own tokens would fit about twice as many in the same time.
    for (let i = 0; i < admitted.length; i++) {
      for (let j = i; j < admitted.length; j++) {
        const seconds = (admitted[j]!.ms - admitted[i]!.ms) / 1000;
        expect(j - i + 1, `admissions ${i}..${j} within ${seconds} s`).toBeLessThanOrEqual(burst + rate * seconds + 1);
      }
    }
    expect(new Set(admitted.map((e) => e.user)).size).toBe(users);
    // Both instances' admitters took part (their tick logs may still be on the way).
    const by = [0, 0];
    for (;;) {
      [by[0], by[1]] = [admittedBy(a) - before[0]!, admittedBy(b) - before[1]!];
      if (by[0]! + by[1]! >= users) break;
      await Promise.race([a.nextLog(), b.nextLog()]);
    }
    expect(by[0]! + by[1]!).toBe(users);
    expect(by[0]).toBeGreaterThan(0);
    expect(by[1]).toBeGreaterThan(0);
  });

  it("both admitters together keep max_active: never more sessions at once, in Redis's order", async () => {
    const eventId = uniqueId();
    const maxActive = 3;
    const users = 9;
    await queue(a).configureQueue({ eventId, state: QueueState.PAUSED, admitRatePerSec: 1000, admitBurst: 1000, maxActive });
    for (let i = 0; i < users; i++) {
      await queue(i % 2 === 0 ? a : b).join({ eventId, userId: `u${i}` });
    }
    await queue(a).configureQueue({ eventId, state: QueueState.OPEN });
    // Each round: the cap fills, then the admitted users leave (through either instance), freeing their slots.
    for (let round = 1; round * maxActive <= users; round++) {
      const entries = await outboxUntil(eventId, (e) => admissions(e).length >= round * maxActive);
      for (const [i, entry] of admissions(entries).slice((round - 1) * maxActive).entries()) {
        await queue(i % 2 === 0 ? b : a).leave({ eventId, userId: entry.user });
      }
    }
    const entries = await outboxUntil(eventId, (e) => e.filter((x) => x.type === "queue.session_ended").length >= users);
    const active = new Set<string>();
    let most = 0;
    for (const entry of entries) {
      if (entry.type === "queue.admitted") active.add(entry.user);
      if (entry.type === "queue.session_ended") active.delete(entry.user);
      most = Math.max(most, active.size);
    }
    expect(most).toBe(maxActive);
    expect(admissions(entries)).toHaveLength(users);
  });

  it("a consumer group spans instances: each entry goes to one consumer, and acks through either instance count", async () => {
    const eventId = uniqueId();
    await queue(a).configureQueue({ eventId, state: QueueState.PAUSED });
    for (let i = 0; i < 30; i++) {
      await queue(i % 2 === 0 ? a : b).join({ eventId, userId: `u${i}` });
    }
    const total = (await outboxUntil(eventId, (e) => e.length >= 31)).length;

    // Each consumer takes at most 5 entries at a time and holds them until both have some:
    // one consumer alone can never take everything.
    const got = { a: [] as string[], b: [] as string[] };
    let bothHaveSome!: () => void;
    const both = new Promise<void>((resolve) => (bothHaveSome = resolve));
    let allSeen!: () => void;
    const seen = new Promise<void>((resolve) => (allSeen = resolve));
    const controller = new AbortController();
    const run = (name: "a" | "b", instance: InstanceProcess) =>
      consume({
        client: feed(instance),
        eventId,
        group: "billing",
        consumer: `worker-${name}`,
        start: SubscribeStart.BEGINNING,
        maxInFlight: 5,
        concurrency: 5,
        signal: controller.signal,
        handler: async (event: ChangeEvent) => {
          got[name].push(event.id);
          if (got.a.length > 0 && got.b.length > 0) bothHaveSome();
          if (got.a.length + got.b.length >= total) allSeen();
          await both;
        },
      });
    const consumers = [run("a", a), run("b", b)];
    await seen;
    controller.abort();
    await Promise.all(consumers);

    expect(got.a.length).toBeGreaterThan(0);
    expect(got.b.length).toBeGreaterThan(0);
    expect(new Set([...got.a, ...got.b]).size).toBe(total);
    expect(got.a.filter((id) => got.b.includes(id))).toEqual([]);
    const stats = await feed(b).getFeedStats({ eventId });
    expect(stats.groups.find((g) => g.group === "billing")).toMatchObject({ consumers: 2, pending: 0n, ackedTotal: BigInt(total) });

    // A delivery through one instance, acknowledged through the other.
    const stop = new AbortController();
    onTestFinished(() => stop.abort());
    const stream = feed(a).subscribe({ eventId, group: "audit", consumer: "x", start: SubscribeStart.BEGINNING, maxInFlight: 3 }, { signal: stop.signal });
    const first = await stream[Symbol.asyncIterator]().next();
    const ids = first.done === true ? [] : first.value.events.map((e) => e.id);
    expect(ids.length).toBeGreaterThan(0);
    expect((await feed(b).ack({ eventId, group: "audit", ids })).acknowledged).toBe(ids.length);
  });

  // Last: it stops instance a.
  it("SIGTERM to one instance ends its streams with SHUTTING_DOWN, and the helpers resume on the other without losing a place or an ack", async () => {
    const eventId = uniqueId();
    await queue(b).configureQueue({ eventId, state: QueueState.PAUSED });
    for (const userId of ["u1", "u2", "w"]) await queue(b).join({ eventId, userId });
    const controller = new AbortController();
    onTestFinished(() => controller.abort());

    const reconnects: Array<{ who: string; reason: string | undefined }> = [];
    const tickets = watchPosition({
      eventId,
      userId: "w",
      transports: [a.transport, b.transport],
      signal: controller.signal,
      backoff: { initialMs: 10, maxMs: 50 },
      onReconnect: ({ error }) => reconnects.push({ who: "watch", reason: reasonOf(error) }),
    })[Symbol.asyncIterator]();
    const first = (await tickets.next()).value as Ticket;
    expect(first).toMatchObject({ position: 3, state: TicketState.WAITING });

    // Entries delivered by a are held by the handler until a is gone: their acks must go through b.
    const handled = new Set<string>();
    let entered = 0;
    let allEntered!: () => void;
    const fourEntered = new Promise<void>((resolve) => (allEntered = resolve));
    let aGone!: () => void;
    const gone = new Promise<void>((resolve) => (aGone = resolve));
    let progress!: () => void;
    let moved = new Promise<void>((resolve) => (progress = resolve));
    const consuming = consume({
      client: [feed(a), feed(b)],
      eventId,
      group: "mail",
      consumer: "worker",
      start: SubscribeStart.BEGINNING,
      concurrency: 10,
      signal: controller.signal,
      backoff: { initialMs: 10, maxMs: 50 },
      onError: (error, { event }) => {
        if (event === undefined) reconnects.push({ who: "consume", reason: reasonOf(error) });
      },
      handler: async (event) => {
        if (++entered === 4) allEntered();
        await gone;
        handled.add(event.id);
        progress();
      },
    });
    // Configured and three joins, delivered by a, held unacknowledged by the handler.
    await fourEntered;
    expect((await feed(b).getFeedStats({ eventId })).groups.find((g) => g.group === "mail")?.pending).toBe(4n);

    expect(await a.terminate()).toBe(0);
    aGone();
    // The place in line, read through b now: u1 leaves, w moves up.
    await queue(b).leave({ eventId, userId: "u1" });
    const next = (await tickets.next()).value as Ticket;
    expect(next).toMatchObject({ position: 2, state: TicketState.WAITING, joinedAt: first.joinedAt });
    expect(reconnects).toContainEqual({ who: "watch", reason: "SHUTTING_DOWN" });

    // Every entry, the four delivered by a and the leave delivered by b, handled and acknowledged.
    const all = await outboxUntil(eventId, (e) => e.length >= 5);
    while (!all.every((e) => handled.has(e.id))) {
      await moved;
      moved = new Promise<void>((resolve) => (progress = resolve));
    }
    expect(reconnects).toContainEqual({ who: "consume", reason: "SHUTTING_DOWN" });
    controller.abort();
    await consuming;
    const group = (await feed(b).getFeedStats({ eventId })).groups.find((g) => g.group === "mail");
    expect(group).toMatchObject({ pending: 0n, ackedTotal: BigInt(all.length) });
  });
});

