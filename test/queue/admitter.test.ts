import { describe, expect, it } from "vitest";
import { Admitter } from "../../src/queue/admitter.js";
import { QueueDefaults } from "../../src/queue/scripts.js";
import { StoredTicketState as T } from "../../src/redis/outcomes.js";
import pino from "pino";
import { uniqueId } from "../support/redis.js";
import { queueFixture, queueLog, testHub, type QueueFixture } from "./fixtures.js";

/** One token per 250 s: the real time a test takes never adds a whole one. */
const SLOW = { admitRatePerSec: 0.004, idleTimeoutSeconds: 3600, sessionTtlSeconds: 3600 } as const;

async function joinAll(f: QueueFixture, eventId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await f.store.join(eventId, `u${i}`);
  }
}

/** Users admitted according to the outbox, in order. */
async function admittedUsers(f: QueueFixture, eventId = f.eventId): Promise<string[]> {
  return (await queueLog(f, eventId)).filter((e) => e["type"] === "queue.admitted").map((e) => e["user"] as string);
}

describe("Admitter", () => {
  it("runs one admission step for every event of the index on each tick", async () => {
    const f = await queueFixture();
    const other = uniqueId();
    await f.store.configure(f.eventId, { ...SLOW, admitBurst: 2 });
    await f.store.configure(other, { ...SLOW, admitBurst: 3 });
    await joinAll(f, f.eventId, 5);
    await joinAll(f, other, 5);
    const admitter = f.admitter();
    expect(await admitter.tickAll()).toEqual({ admitted: 5, sessionsEnded: 0 });
    expect(await admittedUsers(f)).toEqual(["u0", "u1"]);
    expect(await admittedUsers(f, other)).toEqual(["u0", "u1", "u2"]);
    expect(await admitter.tickAll()).toEqual({ admitted: 0, sessionsEnded: 0 });
  });

  it("repeats a step within the tick while the per-call limits leave due work", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, { ...SLOW, admitBurst: 10 });
    await joinAll(f, f.eventId, 8);
    expect(await f.admitter(f.store, { maxAdmissions: 3 }).tickAll()).toEqual({ admitted: 8, sessionsEnded: 0 });
  });

  it("with three instances at once, never admits past the bucket nor anyone twice", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, { ...SLOW, admitBurst: 20 });
    await joinAll(f, f.eventId, 100);
    const admitters = [f.connectStore(), f.connectStore(), f.connectStore()].map((store) => f.admitter(store, { maxAdmissions: 3 }));
    const storm = async (): Promise<number> => {
      const ticks = await Promise.all(admitters.flatMap((a) => Array.from({ length: 15 }, () => a.tickAll())));
      return ticks.reduce((sum, tick) => sum + tick.admitted, 0);
    };

    expect(await storm()).toBe(20);
    const expected = Array.from({ length: 20 }, (_, i) => `u${i}`);
    expect(await admittedUsers(f)).toEqual(expected);

    // 1,000 s at 0.004/s: exactly 4 more, whoever runs the step.
    f.advance(1_000_000);
    expect(await storm()).toBe(4);
    const admitted = await admittedUsers(f);
    expect(admitted).toEqual([...expected, "u20", "u21", "u22", "u23"]);
    expect(new Set(admitted).size).toBe(admitted.length);
    expect(await f.store.stats(f.eventId)).toMatchObject({ stats: { admittedTotal: 24, active: 24, waiting: 76 } });
  });

  it("with three instances at once, never lets more than max_active in", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, { admitRatePerSec: 1000, admitBurst: 1000, maxActive: 7, idleTimeoutSeconds: 3600 });
    await joinAll(f, f.eventId, 50);
    const admitters = [f.connectStore(), f.connectStore(), f.connectStore()].map((store) => f.admitter(store, { maxAdmissions: 2 }));
    const ticks = await Promise.all(admitters.flatMap((a) => Array.from({ length: 10 }, () => a.tickAll())));
    expect(ticks.reduce((sum, tick) => sum + tick.admitted, 0)).toBe(7);
    const admitted = await admittedUsers(f);
    expect(admitted).toEqual(Array.from({ length: 7 }, (_, i) => `u${i}`));
    expect(await f.redis.zcard(f.store.keys(f.eventId).active)).toBe(7);
  });

  it("admits on its own once started, and stops", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, { ...SLOW, admitBurst: 1 });
    await joinAll(f, f.eventId, 2);
    const hub = testHub(f);
    const stream = hub.watch(f.eventId, "u0", new AbortController().signal);
    expect((await stream.next()).value).toMatchObject({ ticket: { state: T.WAITING } });
    const admitter = f.admitter(f.store, { intervalMs: 10 });
    admitter.start();
    try {
      expect((await stream.next()).value).toMatchObject({ ticket: { state: T.ADMITTED } });
    } finally {
      await admitter.stop();
    }
    expect(await stream.next()).toMatchObject({ done: true });
  });

  it("refuses an interval the measured rate would read as an idle line", () => {
    const logger = pino({ level: "silent" });
    const target = { eventIds: async () => [], admit: async () => ({ kind: "event_not_found" }) as const };
    expect(() => new Admitter(target, { intervalMs: QueueDefaults.rateMaxGapMs, logger })).toThrow(RangeError);
    expect(() => new Admitter(target, { intervalMs: 0, logger })).toThrow(RangeError);
    expect(() => new Admitter(target, { logger })).not.toThrow();
  });
});
