import pino from "pino";
import { describe, expect, it } from "vitest";
import { EventSweeper, type SweepResult } from "../../src/redis/event-sweeper.js";
import { QueueDefaults } from "../../src/queue/scripts.js";
import { StoredTicketState as T } from "../../src/redis/outcomes.js";
import { mulberry32 } from "../support/prng.js";
import { queueFixture, queueLog, storedTicket, type QueueFixture } from "./fixtures.js";

/**
 * Presence lives in the ticket, and the idle sweep walks the line in order a
 * bounded step at a time. These tests drive both with an injected clock
 * (the fixture's skew) against an in-memory model of the line.
 */

const IDLE_MS = 60_000;
// Clock steps are 7 s: no multiple of 7 s is 60 s, so a deadline is always at
// least 3 s from any step and real time spent by the test cannot move a user
// across it.
const STEP_MS = 7_000;

async function lineInRedis(f: QueueFixture): Promise<string[]> {
  return f.redis.zrange(f.store.keys(f.eventId).waiting, "0", "-1");
}

for (const seed of [11, 12, 13]) {
  it(`expires exactly the idle waiters, a bounded step at a time, through random joins, heartbeats, leaves and sweeps (seed ${seed})`, async () => {
    const f = await queueFixture();
    const random = mulberry32(seed);
    // The steps' shares of expiries, from a generator of their own, so the run's other draws stay as they were.
    const shares = mulberry32(seed + 1000);
    await f.store.configure(f.eventId, { idleTimeoutSeconds: IDLE_MS / 1000, admitRatePerSec: 0.001 });
    const users = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    let now = 0;
    const line: string[] = [];
    const lastSeen = new Map<string, number>();
    const idle = (user: string): boolean => (lastSeen.get(user) ?? 0) < now - IDLE_MS;
    /** When the walk under way took its first step; undefined between walks. */
    let walkStart: number | undefined;
    let walks = 0;
    let expiredBySweeps = 0;
    let expiredByReads = 0;
    /** Steps that stopped on their expiry cap with the walk still going. */
    let cappedSteps = 0;

    const sweepStep = async (limit: number, maxExpired: number): Promise<boolean> => {
      walkStart ??= now;
      const before = [...line];
      const result = await f.store.sweepStep(f.eventId, limit, maxExpired);
      if (result.kind !== "swept") throw new Error(result.kind);
      // O(batch): a step reads at most its limit, however long the line, and expires at most its share.
      expect(result.examined).toBeLessThanOrEqual(limit);
      expect(result.expired).toBeLessThanOrEqual(maxExpired);
      // Stopped on its share of expiries, before its limit, with the walk going on.
      if (result.more && result.examined < limit) {
        expect(result.expired).toBe(maxExpired);
        cappedSteps++;
      }
      const after = await lineInRedis(f);
      const gone = before.filter((u) => !after.includes(u));
      // Only idle waiters go, and each is counted.
      expect(gone.filter((u) => !idle(u)), `present users expired at ${now}`).toEqual([]);
      expect(result.expired).toBe(gone.length);
      expect(gone.length).toBeLessThanOrEqual(result.examined);
      for (const u of gone) {
        line.splice(line.indexOf(u), 1);
        expect(await storedTicket(f, u)).toMatchObject({ state: T.EXPIRED });
      }
      expiredBySweeps += gone.length;
      if (!result.more) {
        // A finished walk leaves nobody who was idle when it began, and at
        // one clock reading that is exact: nobody idle at all.
        const start = walkStart;
        expect(line.filter((u) => (lastSeen.get(u) ?? 0) < start - IDLE_MS), `idle since before the walk at ${now}`).toEqual([]);
        walkStart = undefined;
        walks++;
      }
      return result.more;
    };

    for (let step = 0; step < 300; step++) {
      const user = users[Math.floor(random() * users.length)] as string;
      const roll = random();
      if (roll < 0.3) {
        const result = await f.store.join(f.eventId, user);
        if (line.includes(user) && !idle(user)) {
          expect(result).toMatchObject({ kind: "already_joined", ticket: { state: T.WAITING, position: line.indexOf(user) + 1 } });
        } else {
          // An idle place not swept yet ends here, and the user joins again at the back.
          if (line.includes(user)) line.splice(line.indexOf(user), 1);
          line.push(user);
          expect(result).toMatchObject({ kind: "joined", ticket: { state: T.WAITING, position: line.length, waitingTotal: line.length } });
        }
        lastSeen.set(user, now);
      } else if (roll < 0.45) {
        // A heartbeat: GetPosition, which expires the caller if they were idle.
        const result = await f.store.position(f.eventId, user);
        if (line.includes(user) && idle(user)) {
          expect(result).toMatchObject({ kind: "ticket", ticket: { state: T.EXPIRED, position: 0 } });
          line.splice(line.indexOf(user), 1);
          expiredByReads++;
        } else if (line.includes(user)) {
          expect(result).toMatchObject({ kind: "ticket", ticket: { state: T.WAITING, position: line.indexOf(user) + 1 } });
          lastSeen.set(user, now);
        } else {
          expect(result.kind === "not_in_queue" || (result.kind === "ticket" && result.ticket.state !== T.WAITING)).toBe(true);
        }
      } else if (roll < 0.55) {
        // A watch loop's presence refresh: waiting users only.
        await f.store.watchTick(f.eventId, { touch: [user], read: [] });
        if (line.includes(user)) lastSeen.set(user, now);
      } else if (roll < 0.63) {
        const result = await f.store.leave(f.eventId, user);
        if (line.includes(user)) {
          expect(result.kind).toBe("left");
          line.splice(line.indexOf(user), 1);
        } else {
          expect(result.kind).not.toBe("left");
        }
      } else if (roll < 0.8) {
        now += STEP_MS;
        f.advance(STEP_MS);
      } else if (roll < 0.9) {
        // One step of a walk, which may go on later at another clock reading.
        await sweepStep(1 + Math.floor(random() * 4), 1 + Math.floor(shares() * 2));
      } else {
        // The sweeper's pass: steps until the walk is done.
        const limit = 1 + Math.floor(random() * 6);
        const maxExpired = 1 + Math.floor(shares() * 2);
        while (await sweepStep(limit, maxExpired));
      }
      expect(await lineInRedis(f), `line after step ${step}`).toEqual(line);
    }
    // Every path was taken.
    expect(walks).toBeGreaterThan(5);
    expect(expiredBySweeps).toBeGreaterThan(5);
    expect(expiredByReads).toBeGreaterThan(0);
    expect(cappedSteps).toBeGreaterThan(0);
    // The outbox holds one queue.expired per expiry.
    const expiredEntries = (await queueLog(f)).filter((e) => e["type"] === "queue.expired");
    expect(expiredEntries.length).toBeGreaterThanOrEqual(expiredBySweeps + expiredByReads);
  });
}

describe("the idle sweep's walk", () => {
  it("costs one read while nobody can be idle yet, and walks again once someone can", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, { idleTimeoutSeconds: 60 });
    for (let i = 0; i < 10; i++) await f.store.join(f.eventId, `u${i}`);
    // Everyone joined just now: the walk stops at the head of the line.
    expect(await f.store.sweepStep(f.eventId, 4)).toEqual({ kind: "swept", expired: 0, more: false, examined: 1 });
    f.advance(30_000);
    await f.store.position(f.eventId, "u0");
    // Nobody's presence is older than the earliest the walk left: no walk at all.
    expect(await f.store.sweepStep(f.eventId, 4)).toEqual({ kind: "swept", expired: 0, more: false, examined: 0 });
    f.advance(31_000);
    // u1…u9 are idle now, u0 is not: a walk in steps of 4, resuming where it stopped.
    expect(await f.store.sweepStep(f.eventId, 4)).toEqual({ kind: "swept", expired: 3, more: true, examined: 4 });
    expect(await f.store.sweepStep(f.eventId, 4)).toEqual({ kind: "swept", expired: 4, more: true, examined: 4 });
    expect(await f.store.sweepStep(f.eventId, 4)).toEqual({ kind: "swept", expired: 2, more: false, examined: 2 });
    expect(await lineInRedis(f)).toEqual(["u0"]);
    // u0 was present 31 s ago: the next walk is due 29 s from now, not before.
    expect(await f.store.sweepStep(f.eventId, 4)).toEqual({ kind: "swept", expired: 0, more: false, examined: 0 });
    f.advance(28_000);
    expect(await f.store.sweepStep(f.eventId, 4)).toEqual({ kind: "swept", expired: 0, more: false, examined: 0 });
    f.advance(2_000);
    expect(await f.store.sweepStep(f.eventId, 4)).toEqual({ kind: "swept", expired: 1, more: false, examined: 1 });
    expect(await lineInRedis(f)).toEqual([]);
  });

  it("expires at most its share a step, resumes behind the last waiter it expired, and finishes the walk", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, { idleTimeoutSeconds: 60 });
    const idle = ["i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "i9"];
    const present = ["p0", "p1"];
    for (const user of ["i0", "i1", "p0", "i2", "i3", "i4", "p1", "i5", "i6", "i7", "i8", "i9"]) await f.store.join(f.eventId, user);
    f.advance(31_000);
    for (const user of present) await f.store.position(f.eventId, user);
    f.advance(30_000);
    // Joined within the idle timeout: the walk ends at the first of them.
    await f.store.join(f.eventId, "late0");
    await f.store.join(f.eventId, "late1");
    // i0 i1 (p0) i2 i3 | i4 (p1) i5 i6 i7 | i8 i9 (late0): the step reads on until its 4th expiry, however large its limit.
    expect(await f.store.sweepStep(f.eventId, 500, 4)).toEqual({ kind: "swept", expired: 4, more: true, examined: 5 });
    expect(await lineInRedis(f)).toEqual(["p0", "i4", "p1", "i5", "i6", "i7", "i8", "i9", "late0", "late1"]);
    expect(await f.store.sweepStep(f.eventId, 500, 4)).toEqual({ kind: "swept", expired: 4, more: true, examined: 5 });
    expect(await f.store.sweepStep(f.eventId, 500, 4)).toEqual({ kind: "swept", expired: 2, more: false, examined: 3 });
    expect(await lineInRedis(f)).toEqual(["p0", "p1", "late0", "late1"]);
    // The walk remembered the earliest presence it left (p0's poll): nobody can be idle before it is.
    expect(await f.store.sweepStep(f.eventId, 500, 4)).toEqual({ kind: "swept", expired: 0, more: false, examined: 0 });
    // Each idle waiter expired once, in line order; nobody present.
    const expired = (await queueLog(f)).filter((e) => e["type"] === "queue.expired").map((e) => e["user"]);
    expect(expired).toEqual(idle);
    for (const user of idle) expect(await storedTicket(f, user)).toMatchObject({ state: T.EXPIRED });
    for (const user of [...present, "late0", "late1"]) expect(await storedTicket(f, user)).toMatchObject({ state: T.WAITING });
  });

  it("ends the walk when its last expiry is the back of the line", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, { idleTimeoutSeconds: 60 });
    for (const user of ["a", "b", "c"]) await f.store.join(f.eventId, user);
    f.advance(31_000);
    await f.store.position(f.eventId, "a");
    f.advance(30_000);
    expect(await f.store.sweepStep(f.eventId, 500, 2)).toEqual({ kind: "swept", expired: 2, more: false, examined: 3 });
    expect(await lineInRedis(f)).toEqual(["a"]);
  });

  it("takes more steps, none past the default share of expiries, when more are idle than a step may expire", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, { idleTimeoutSeconds: 60 });
    const share = QueueDefaults.sweepMaxExpired;
    const users = Array.from({ length: 2 * share + share / 2 + 20 }, (_, i) => `u${i}`);
    for (const user of users) await f.store.join(f.eventId, user);
    f.advance(31_000);
    // Every 13th is present; everyone else is idle.
    const present = users.filter((_, i) => i % 13 === 0);
    for (const user of present) await f.store.position(f.eventId, user);
    f.advance(30_000);
    const idle = users.filter((user) => !present.includes(user));
    expect(idle.length).toBeGreaterThan(2 * share);
    const steps: SweepResult[] = [];
    const sweeper = new EventSweeper(
      {
        eventIds: () => f.store.eventIds(),
        sweep: async (eventId, limit) => {
          const result = await f.store.sweep(eventId, limit);
          steps.push(result);
          return result;
        },
      },
      { intervalMs: 1000, batch: 500, what: "idle waiters", logger: pino({ level: "silent" }) },
    );
    expect(await sweeper.sweepAll()).toBe(idle.length);
    expect(steps.map((step) => (step.kind === "swept" ? step.expired : -1))).toEqual([share, share, idle.length - 2 * share]);
    expect(await lineInRedis(f)).toEqual(present);
    const expired = (await queueLog(f)).filter((e) => e["type"] === "queue.expired").map((e) => e["user"]);
    expect(expired).toEqual(idle);
  });

  it("keeps a ticket's presence in the ticket, and no second sorted set", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, { idleTimeoutSeconds: 60 });
    await f.store.join(f.eventId, "a");
    const joined = await storedTicket(f, "a");
    expect(joined).toMatchObject({ state: T.WAITING, seq: 1 });
    expect(joined?.seenMs).toBe(joined?.joinedMs);
    f.advance(10_000);
    await f.store.position(f.eventId, "a");
    const polled = await storedTicket(f, "a");
    expect(polled?.joinedMs).toBe(joined?.joinedMs);
    expect((polled?.seenMs ?? 0) - (joined?.seenMs ?? 0)).toBeGreaterThanOrEqual(10_000);
    const keys = await f.redis.keys(`${f.keyPrefix}{${f.eventId}}:*`);
    expect(keys.filter((key) => key.endsWith(":q:seen"))).toEqual([]);
    // The ticket's bucket stays a compact hash.
    const bucket = keys.find((key) => key.includes(":q:t:")) ?? "";
    expect(await f.redis.object("ENCODING", bucket)).toBe("listpack");
  });
});
