import { beforeEach, describe, expect, it } from "vitest";
import type { QueueStore } from "../../src/queue/queue-store.js";
import type { AdmissionStep, QueueConfigChange, TicketView } from "../../src/queue/types.js";
import { OpeningPhase, StoredQueueState as Q, StoredTicketState as T } from "../../src/redis/outcomes.js";
import { queueFixture, queueLog, storedTicket, type QueueFixture } from "./fixtures.js";

let f: QueueFixture;
beforeEach(async () => {
  f = await queueFixture();
});

/**
 * Rates slow enough that the real time a test takes can never add a whole
 * token (one token per 250 s), so every count below is exact; the test moves
 * the clock by hand to refill.
 */
const SLOW = { admitRatePerSec: 0.004, idleTimeoutSeconds: 3600 } satisfies QueueConfigChange;
/** Rates so generous that tokens never limit: what is under test is elsewhere. */
const PLENTY = { admitRatePerSec: 1000, admitBurst: 1000, idleTimeoutSeconds: 3600 } satisfies QueueConfigChange;

async function line(eventId: string, users: readonly string[], store: QueueStore = f.store): Promise<void> {
  for (const user of users) {
    expect((await store.join(eventId, user)).kind).toBe("joined");
  }
}

async function step(options?: Parameters<QueueStore["admit"]>[1]): Promise<AdmissionStep> {
  const result = await f.store.admit(f.eventId, options);
  if (result.kind !== "admission") throw new Error(result.kind);
  return result;
}

async function ticket(userId: string): Promise<TicketView> {
  const result = await f.store.position(f.eventId, userId);
  if (result.kind !== "ticket") throw new Error(result.kind);
  return result.ticket;
}

function users(n: number, prefix = "u"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

describe("admitQueue", () => {
  it("refuses an event that was never configured, writing nothing", async () => {
    expect(await f.store.admit(f.eventId)).toEqual({ kind: "event_not_found" });
    const k = f.store.keys(f.eventId);
    expect(await f.redis.exists(k.bucket, k.active, k.stats, k.log)).toBe(0);
  });

  it("refuses limits that could never make progress before reaching Redis", async () => {
    await expect(f.store.admit(f.eventId, { maxAdmissions: 0 })).rejects.toThrow(RangeError);
    await expect(f.store.admit(f.eventId, { sessionBatch: 1.5 })).rejects.toThrow(RangeError);
  });

  it("admits from the head of the line with a session of session_ttl, and records each admission", async () => {
    await f.store.configure(f.eventId, { ...SLOW, admitBurst: 3, sessionTtlSeconds: 60 });
    await line(f.eventId, users(5));
    expect(await step()).toEqual({ kind: "admission", admitted: 3, sessionsEnded: 0, tokens: 0, admittedPerSec: undefined, more: false, opening: OpeningPhase.NONE });

    const admitted = await Promise.all(["u0", "u1", "u2"].map(ticket));
    const issued = admitted[0]?.issuedAtMs ?? 0;
    for (const t of admitted) {
      expect(t).toMatchObject({ state: T.ADMITTED, position: 0, waitingTotal: 2, issuedAtMs: issued, expiresAtMs: issued + 60_000 });
      expect(t.estimatedWaitSeconds).toBeUndefined();
    }
    expect(await ticket("u3")).toMatchObject({ state: T.WAITING, position: 1 });
    expect((await ticket("u3")).issuedAtMs).toBeUndefined();

    const k = f.store.keys(f.eventId);
    expect(await f.redis.zrange(k.active, "0", "-1", "WITHSCORES")).toEqual(["u0", String(issued + 60_000), "u1", String(issued + 60_000), "u2", String(issued + 60_000)]);
    expect(await storedTicket(f, "u0")).toEqual({ state: T.ADMITTED, seq: 1, joinedMs: expect.any(Number), issuedMs: issued, expiresMs: issued + 60_000 });
    const entries = (await queueLog(f)).filter((e) => e["type"] === "queue.admitted");
    expect(entries).toEqual(
      ["u0", "u1", "u2"].map((user, i) => ({ type: "queue.admitted", user, seq: String(i + 1), issued: String(issued), expires: String(issued + 60_000) })),
    );

    // A repeated Join answers the admission, not a new place.
    const again = await f.store.join(f.eventId, "u1");
    expect(again).toMatchObject({ kind: "already_joined", ticket: { state: T.ADMITTED, issuedAtMs: issued, expiresAtMs: issued + 60_000 } });
    const stats = await f.store.stats(f.eventId);
    expect(stats).toMatchObject({ kind: "stats", stats: { waiting: 2, admittedTotal: 3, active: 3 } });
  });

  it(
    "admits exactly burst + floor(rate × elapsed) at 20/s with a burst of 20",
    async () => {
      await f.store.configure(f.eventId, { admitRatePerSec: 20, admitBurst: 20, idleTimeoutSeconds: 3600 });
      await line(f.eventId, users(200));
      // The script's own clock is the skew applied plus the real time between
      // calls; the bucket records it on every refill, so the expected count
      // below is exact rather than a bound.
      const k = f.store.keys(f.eventId);
      const refilledAt = async (): Promise<number> => Number(await f.redis.hget(k.bucket, "refilled_ms"));
      let total = (await step()).admitted;
      expect(total).toBe(20);
      const start = await refilledAt();
      // 36 steps of 250 ms let everyone in; two more show the count holding at the line's size.
      for (let n = 1; n <= 38; n++) {
        f.advance(250);
        const result = await step();
        total += result.admitted;
        const elapsed = (await refilledAt()) - start;
        expect(elapsed).toBeGreaterThanOrEqual(250 * n);
        expect(total, `after ${n} steps, ${elapsed} ms`).toBe(Math.min(200, 20 + Math.floor((20 * elapsed) / 1000)));
        // From the skew alone: never fewer than the applied time allows.
        expect(total).toBeGreaterThanOrEqual(Math.min(200, 20 + 5 * n));
        // Whatever is left is a fraction while users wait, and never more than the burst.
        expect(result.tokens).toBeLessThanOrEqual(20);
        if (total < 200) expect(result.tokens).toBeLessThan(1);
      }
      expect(total).toBe(200);
      expect(await f.redis.zcard(k.active)).toBe(200);
    },
  );

  it("carries fractions of a token over and never fills past the burst", async () => {
    await f.store.configure(f.eventId, { ...SLOW, admitBurst: 2 });
    await line(f.eventId, users(6));
    expect(await step()).toMatchObject({ admitted: 2, tokens: 0 });
    // 0.004 tokens/s: 0.4 of a token per 100 s.
    const seen: Array<[number, number]> = [];
    for (let n = 0; n < 5; n++) {
      f.advance(100_000);
      const result = await step();
      seen.push([result.admitted, Math.floor(result.tokens * 10)]);
    }
    // Tokens 0.4, 0.8, 1.2 → one admitted, 0.2 left, 0.6, 1.0 → one admitted.
    expect(seen).toEqual([
      [0, 4],
      [0, 8],
      [1, 2],
      [0, 6],
      [1, 0],
    ]);
    // 1,000 s would make 4 tokens: the bucket holds 2.
    f.advance(1_000_000);
    expect(await step()).toMatchObject({ admitted: 2, tokens: 0 });
    f.advance(1_000_000);
    expect(await step()).toMatchObject({ admitted: 0, tokens: 2 });
    expect(await f.redis.hget(f.store.keys(f.eventId).bucket, "tokens")).toBe("2");
  });

  it("adds nothing for time that runs backwards, and does not count it twice afterwards", async () => {
    await f.store.configure(f.eventId, { ...SLOW, admitBurst: 2 });
    await line(f.eventId, users(5));
    expect(await step()).toMatchObject({ admitted: 2, tokens: 0 });
    f.advance(-200_000);
    expect(await step()).toMatchObject({ admitted: 0, tokens: 0 });
    // Back to where the clock was, then 150 s on: 0.6 of a token, not 1.4.
    f.advance(200_000 + 150_000);
    const result = await step();
    expect(result.admitted).toBe(0);
    expect(result.tokens).toBeGreaterThanOrEqual(0.6);
    expect(result.tokens).toBeLessThan(1);
  });

  it("admits nobody while PAUSED, keeps admitting while CLOSED", async () => {
    await f.store.configure(f.eventId, { ...PLENTY, admitBurst: 5, state: Q.PAUSED });
    await line(f.eventId, users(3));
    expect(await step()).toEqual({ kind: "admission", admitted: 0, sessionsEnded: 0, tokens: 5, admittedPerSec: undefined, more: false, opening: OpeningPhase.NONE });
    expect(await ticket("u0")).toMatchObject({ state: T.WAITING, position: 1 });
    await f.store.configure(f.eventId, { state: Q.CLOSED });
    expect(await step()).toMatchObject({ admitted: 3 });
    expect(await f.store.join(f.eventId, "late")).toEqual({ kind: "queue_closed" });
    // Sessions end on time while paused all the same.
    await f.store.configure(f.eventId, { state: Q.PAUSED });
    await line(f.eventId, ["next"]);
    f.advance(600_000);
    expect(await step()).toMatchObject({ admitted: 0, sessionsEnded: 3 });
  });

  it("stops at max_active and resumes as sessions end by leave or by expiry", async () => {
    await f.store.configure(f.eventId, { ...PLENTY, maxActive: 2, sessionTtlSeconds: 60 });
    await line(f.eventId, users(6));
    expect(await step()).toMatchObject({ admitted: 2 });
    expect(await step()).toMatchObject({ admitted: 0, more: false });

    const left = await f.store.leave(f.eventId, "u0");
    expect(left).toMatchObject({ kind: "left", ticket: { state: T.LEFT, position: 0 } });
    if (left.kind !== "left") throw new Error(left.kind);
    expect(left.ticket.expiresAtMs).toBe((left.ticket.issuedAtMs ?? 0) + 60_000);
    expect(await f.store.leave(f.eventId, "u0")).toMatchObject({ kind: "already_ended", ticket: { state: T.LEFT } });
    expect(await step()).toMatchObject({ admitted: 1, sessionsEnded: 0 });
    expect(await ticket("u2")).toMatchObject({ state: T.ADMITTED });
    expect(await ticket("u3")).toMatchObject({ state: T.WAITING, position: 1 });

    f.advance(60_000);
    expect(await step()).toMatchObject({ admitted: 2, sessionsEnded: 2 });
    expect(await ticket("u1")).toMatchObject({ state: T.EXPIRED, position: 0, expiresAtMs: (left.ticket.issuedAtMs ?? 0) + 60_000 });
    expect(await ticket("u4")).toMatchObject({ state: T.ADMITTED });
    expect(await f.store.stats(f.eventId)).toMatchObject({ stats: { active: 2, admittedTotal: 5, waiting: 1 } });

    const ends = (await queueLog(f)).filter((e) => e["type"] === "queue.session_ended");
    expect(ends.map((e) => [e["user"], e["reason"]])).toEqual([
      ["u0", "left"],
      ["u1", "expired"],
      ["u2", "expired"],
    ]);
    // Ending a session is not leaving the line: no queue.left, no queue.expired.
    expect((await queueLog(f)).filter((e) => e["type"] === "queue.left" || e["type"] === "queue.expired")).toEqual([]);
  });

  it("reads a lapsed session as EXPIRED before it is swept, and ends it on leave or rejoin", async () => {
    await f.store.configure(f.eventId, { ...PLENTY, sessionTtlSeconds: 60 });
    await line(f.eventId, ["a", "b", "c"]);
    expect(await step()).toMatchObject({ admitted: 3 });
    f.advance(60_000);
    expect(await ticket("a")).toMatchObject({ state: T.EXPIRED, position: 0 });
    expect((await ticket("a")).expiresAtMs).toBeGreaterThan(0);
    expect(await f.store.stats(f.eventId)).toMatchObject({ stats: { active: 0 } });

    expect(await f.store.leave(f.eventId, "b")).toMatchObject({ kind: "already_ended", ticket: { state: T.EXPIRED } });
    expect(await f.store.join(f.eventId, "c")).toMatchObject({ kind: "joined", ticket: { state: T.WAITING, position: 1 } });
    expect((await ticket("c")).issuedAtMs).toBeUndefined();
    const ends = (await queueLog(f)).filter((e) => e["type"] === "queue.session_ended");
    expect(ends.map((e) => [e["user"], e["reason"]])).toEqual([
      ["b", "expired"],
      ["c", "expired"],
    ]);

    // The admitter ends what is left (a) and lets c in again, with a new session.
    expect(await step()).toMatchObject({ sessionsEnded: 1, admitted: 1 });
    expect(await ticket("c")).toMatchObject({ state: T.ADMITTED });
    expect(await f.redis.zrange(f.store.keys(f.eventId).active, "0", "-1")).toEqual(["c"]);
  });

  it("refuses a lapsed admission a place while CLOSED", async () => {
    await f.store.configure(f.eventId, { ...PLENTY, sessionTtlSeconds: 60 });
    await line(f.eventId, ["a"]);
    await step();
    await f.store.configure(f.eventId, { state: Q.CLOSED });
    expect(await f.store.join(f.eventId, "a")).toMatchObject({ kind: "already_joined", ticket: { state: T.ADMITTED } });
    f.advance(60_000);
    expect(await f.store.join(f.eventId, "a")).toEqual({ kind: "queue_closed" });
  });

  it("ends lapsed sessions in bounded batches", async () => {
    await f.store.configure(f.eventId, { ...PLENTY, sessionTtlSeconds: 60 });
    await line(f.eventId, users(5));
    await step();
    f.advance(60_000);
    expect(await step({ sessionBatch: 2 })).toMatchObject({ sessionsEnded: 2, more: true });
    expect(await step({ sessionBatch: 2 })).toMatchObject({ sessionsEnded: 2, more: true });
    expect(await step({ sessionBatch: 2 })).toMatchObject({ sessionsEnded: 1, more: false });
    expect(await f.redis.zcard(f.store.keys(f.eventId).active)).toBe(0);
  });

  it("splits a large step into calls of maxAdmissions and says when more is due", async () => {
    await f.store.configure(f.eventId, { ...SLOW, admitBurst: 10 });
    await line(f.eventId, users(7));
    expect(await step({ maxAdmissions: 3 })).toMatchObject({ admitted: 3, more: true });
    expect(await step({ maxAdmissions: 3 })).toMatchObject({ admitted: 3, more: true });
    expect(await step({ maxAdmissions: 3 })).toMatchObject({ admitted: 1, more: false });
  });

  it("lets no idle user in: idle users at the head of the line lose their place instead", async () => {
    await f.store.configure(f.eventId, { ...SLOW, admitBurst: 10, idleTimeoutSeconds: 60 });
    await line(f.eventId, ["gone", "here"]);
    f.advance(30_000);
    await f.store.position(f.eventId, "here");
    await line(f.eventId, ["late"]);
    f.advance(31_000);
    expect(await step()).toMatchObject({ admitted: 2, tokens: 8 });
    expect(await ticket("gone")).toMatchObject({ state: T.EXPIRED });
    expect(await ticket("here")).toMatchObject({ state: T.ADMITTED });
    expect((await queueLog(f)).filter((e) => e["type"] === "queue.expired").map((e) => e["user"])).toEqual(["gone"]);
  });
});

describe("the measured admission rate", () => {
  it("is absent before the first admission, then gives waiting users an estimated wait", async () => {
    await f.store.configure(f.eventId, { admitRatePerSec: 20, admitBurst: 20, idleTimeoutSeconds: 3600 });
    await line(f.eventId, users(800));
    expect((await ticket("u799")).estimatedWaitSeconds).toBeUndefined();
    const before = await f.store.stats(f.eventId);
    if (before.kind !== "stats") throw new Error(before.kind);
    expect(before.stats.admittedPerSec).toBeUndefined();

    // The first step has no time span to measure over yet.
    expect(await step()).toMatchObject({ admitted: 20, admittedPerSec: undefined });
    for (let n = 0; n < 120; n++) {
      f.advance(250);
      await step();
    }
    const result = await f.store.stats(f.eventId);
    if (result.kind !== "stats") throw new Error(result.kind);
    const rate = result.stats.admittedPerSec ?? 0;
    // 20/s measured over 30 s of steps: within the jitter of whole admissions per step.
    expect(rate).toBeGreaterThan(19);
    expect(rate).toBeLessThan(21);

    const waiting = await ticket("u799");
    expect(waiting.state).toBe(T.WAITING);
    expect(waiting.estimatedWaitSeconds).toBe(Math.ceil(waiting.position / rate));
    expect(await f.store.join(f.eventId, "u799")).toMatchObject({
      kind: "already_joined",
      ticket: { position: waiting.position, estimatedWaitSeconds: Math.ceil(waiting.position / rate) },
    });
  });

  it("does not decay while the line is empty or paused", async () => {
    await f.store.configure(f.eventId, { ...PLENTY, admitBurst: 5, admitRatePerSec: 20 });
    await line(f.eventId, users(10));
    await step();
    f.advance(250);
    const measured = (await step()).admittedPerSec;
    expect(measured).toBeGreaterThan(0);
    expect(await f.redis.zcard(f.store.keys(f.eventId).waiting)).toBe(0);

    f.advance(3_600_000);
    expect((await step()).admittedPerSec).toBe(measured);
    await f.store.configure(f.eventId, { state: Q.PAUSED });
    await line(f.eventId, ["later"]);
    f.advance(3_600_000);
    expect((await step()).admittedPerSec).toBe(measured);
    expect(await f.store.stats(f.eventId)).toMatchObject({ stats: { admittedPerSec: measured } });
  });
});
