import { beforeEach, describe, expect, it } from "vitest";
import { StoredQueueState as Q, StoredTicketState as T } from "../../src/redis/outcomes.js";
import { queueFixture, type QueueFixture } from "./fixtures.js";
import { ticketBucketKey } from "../../src/queue/keys.js";

let f: QueueFixture;
beforeEach(async () => {
  f = await queueFixture();
});

describe("configureQueue", () => {
  it("creates with the documented defaults", async () => {
    const result = await f.store.configure(f.eventId, {});
    expect(result).toEqual({
      kind: "created",
      config: {
        eventId: f.eventId,
        admitRatePerSec: 10,
        admitBurst: 10,
        maxActive: 0,
        sessionTtlSeconds: 600,
        idleTimeoutSeconds: 300,
        opensAtMs: undefined,
        state: Q.OPEN,
      },
    });
  });

  it("derives the burst from a fractional rate and keeps the fraction", async () => {
    const result = await f.store.configure(f.eventId, { admitRatePerSec: 2.5 });
    expect(result.config.admitRatePerSec).toBe(2.5);
    expect(result.config.admitBurst).toBe(3);
  });

  it("updates only the fields given, and sets and clears opens_at", async () => {
    await f.store.configure(f.eventId, { admitRatePerSec: 50, maxActive: 7 });
    const updated = await f.store.configure(f.eventId, { state: Q.PAUSED, opensAtMs: 1_900_000_000_000 });
    expect(updated.kind).toBe("updated");
    expect(updated.config).toMatchObject({ admitRatePerSec: 50, admitBurst: 50, maxActive: 7, state: Q.PAUSED });
    expect(updated.config.opensAtMs).toBe(1_900_000_000_000);
    const cleared = await f.store.configure(f.eventId, { opensAtMs: null });
    expect(cleared.config.opensAtMs).toBeUndefined();
    expect(cleared.config.state).toBe(Q.PAUSED);
  });

  it("records the event in the index the sweeper walks", async () => {
    await f.store.configure(f.eventId, {});
    expect(await f.store.eventIds()).toContain(f.eventId);
  });
});

describe("joinQueue", () => {
  it("refuses an event that was never configured, writing nothing", async () => {
    expect(await f.store.join(f.eventId, "u1")).toEqual({ kind: "event_not_found" });
    const k = f.store.keys(f.eventId);
    expect(await f.redis.exists(k.stats, k.waiting, ticketBucketKey(k, "u1"), k.log)).toBe(0);
  });

  it("gives places in arrival order and returns the same ticket on a repeat", async () => {
    await f.store.configure(f.eventId, {});
    const a = await f.store.join(f.eventId, "alice");
    const b = await f.store.join(f.eventId, "bob");
    const again = await f.store.join(f.eventId, "alice");
    expect(a).toMatchObject({ kind: "joined", ticket: { position: 1, waitingTotal: 1, state: T.WAITING } });
    expect(b).toMatchObject({ kind: "joined", ticket: { position: 2, waitingTotal: 2 } });
    expect(again.kind).toBe("already_joined");
    if (again.kind !== "already_joined" || a.kind !== "joined") throw new Error("unreachable");
    expect(again.ticket).toEqual({ ...a.ticket, waitingTotal: 2 });
  });

  it("accepts joins while paused", async () => {
    await f.store.configure(f.eventId, { state: Q.PAUSED });
    expect((await f.store.join(f.eventId, "u1")).kind).toBe("joined");
  });

  it("refuses new users while closed but still answers users who have a place", async () => {
    await f.store.configure(f.eventId, {});
    await f.store.join(f.eventId, "early");
    await f.store.configure(f.eventId, { state: Q.CLOSED });
    expect(await f.store.join(f.eventId, "late")).toEqual({ kind: "queue_closed" });
    expect(await f.store.join(f.eventId, "early")).toMatchObject({ kind: "already_joined", ticket: { position: 1 } });
    expect(await f.redis.hexists(f.store.keys(f.eventId).tickets, "late")).toBe(0);
  });

  it("puts a user who left and comes back at the back of the line", async () => {
    await f.store.configure(f.eventId, {});
    await f.store.join(f.eventId, "a");
    await f.store.join(f.eventId, "b");
    await f.store.leave(f.eventId, "a");
    expect(await f.store.join(f.eventId, "a")).toMatchObject({ kind: "joined", ticket: { position: 2 } });
  });

  it("gives exactly one place to 1,000 concurrent joins of one user", async () => {
    await f.store.configure(f.eventId, {});
    const results = await Promise.all(Array.from({ length: 1000 }, () => f.store.join(f.eventId, "same-user")));
    expect(results.filter((r) => r.kind === "joined")).toHaveLength(1);
    expect(results.filter((r) => r.kind === "already_joined")).toHaveLength(999);
    expect(new Set(results.map((r) => (r.kind === "joined" || r.kind === "already_joined" ? r.ticket.joinedAtMs : -1))).size).toBe(1);
    const k = f.store.keys(f.eventId);
    expect(await f.redis.zcard(k.waiting)).toBe(1);
    const types = (await f.redis.xrange(k.log, "-", "+")).map(([, fields]) => fields[1]);
    expect(types).toEqual(["queue.configured", "queue.joined"]);
  });

  it("numbers 10,000 joins 1..10,000 in arrival order", async () => {
    await f.store.configure(f.eventId, {});
    const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
    const joined = await Promise.all(users.map((u) => f.store.join(f.eventId, u)));
    expect(joined.map((r) => (r.kind === "joined" ? r.ticket.position : -1))).toEqual(users.map((_, i) => i + 1));
    const positions = await Promise.all(users.map((u) => f.store.position(f.eventId, u)));
    expect(positions.map((r) => (r.kind === "ticket" ? r.ticket.position : -1))).toEqual(users.map((_, i) => i + 1));
  });
});

describe("getPosition", () => {
  it("distinguishes unknown events from unknown users", async () => {
    expect(await f.store.position(f.eventId, "u1")).toEqual({ kind: "event_not_found" });
    await f.store.configure(f.eventId, {});
    expect(await f.store.position(f.eventId, "u1")).toEqual({ kind: "not_in_queue" });
  });

  it("counts only users still waiting ahead", async () => {
    await f.store.configure(f.eventId, {});
    for (const u of ["a", "b", "c", "d"]) await f.store.join(f.eventId, u);
    await f.store.leave(f.eventId, "b");
    expect(await f.store.position(f.eventId, "d")).toMatchObject({ kind: "ticket", ticket: { position: 3, waitingTotal: 3 } });
  });

  it("keeps a place for a user who polls within the idle timeout", async () => {
    await f.store.configure(f.eventId, { idleTimeoutSeconds: 60 });
    await f.store.join(f.eventId, "poller");
    await f.store.join(f.eventId, "sleeper");
    f.advance(40_000);
    await f.store.position(f.eventId, "poller");
    f.advance(40_000);
    expect(await f.store.position(f.eventId, "poller")).toMatchObject({ ticket: { state: T.WAITING, position: 1 } });
    expect(await f.store.position(f.eventId, "sleeper")).toMatchObject({ ticket: { state: T.EXPIRED, position: 0 } });
  });
});

describe("leaveQueue", () => {
  it("covers every outcome and is idempotent", async () => {
    expect(await f.store.leave(f.eventId, "u1")).toEqual({ kind: "event_not_found" });
    await f.store.configure(f.eventId, {});
    expect(await f.store.leave(f.eventId, "u1")).toEqual({ kind: "not_in_queue" });
    await f.store.join(f.eventId, "u1");
    expect(await f.store.leave(f.eventId, "u1")).toMatchObject({ kind: "left", ticket: { state: T.LEFT, position: 0 } });
    expect(await f.store.leave(f.eventId, "u1")).toMatchObject({ kind: "already_ended", ticket: { state: T.LEFT } });
    expect(await f.store.position(f.eventId, "u1")).toMatchObject({ ticket: { state: T.LEFT } });
  });
});

describe("idle expiry", () => {
  it("expires idle waiters in bounded batches and records each in the outbox", async () => {
    await f.store.configure(f.eventId, { idleTimeoutSeconds: 60 });
    for (let i = 0; i < 5; i++) await f.store.join(f.eventId, `u${i}`);
    expect(await f.store.sweep(f.eventId, 2)).toEqual({ kind: "swept", expired: 0, more: false });
    f.advance(61_000);
    expect(await f.store.sweep(f.eventId, 2)).toEqual({ kind: "swept", expired: 2, more: true });
    expect(await f.store.sweep(f.eventId, 2)).toEqual({ kind: "swept", expired: 2, more: true });
    expect(await f.store.sweep(f.eventId, 2)).toEqual({ kind: "swept", expired: 1, more: false });
    const log = await f.redis.xrange(f.store.keys(f.eventId).log, "-", "+");
    expect(log.filter(([, fields]) => fields[1] === "queue.expired")).toHaveLength(5);
    expect(await f.store.sweep(uniqueMissing(f.eventId), 2)).toEqual({ kind: "event_not_found" });
  });

  it("gives an expired user a new place at the back when they join again", async () => {
    await f.store.configure(f.eventId, { idleTimeoutSeconds: 60 });
    await f.store.join(f.eventId, "gone");
    f.advance(30_000);
    await f.store.join(f.eventId, "stays");
    f.advance(31_000);
    expect(await f.store.join(f.eventId, "gone")).toMatchObject({ kind: "joined", ticket: { position: 2 } });
    expect(await f.store.position(f.eventId, "stays")).toMatchObject({ ticket: { position: 1 } });
  });
});

describe("readQueueStats", () => {
  it("reports counts and the oldest waiter's age", async () => {
    expect(await f.store.stats(f.eventId)).toEqual({ kind: "event_not_found" });
    await f.store.configure(f.eventId, {});
    await f.store.join(f.eventId, "a");
    await f.store.join(f.eventId, "b");
    await f.store.leave(f.eventId, "b");
    f.advance(5_000);
    const result = await f.store.stats(f.eventId);
    if (result.kind !== "stats") throw new Error(result.kind);
    expect(result.stats).toMatchObject({ waiting: 1, joinedTotal: 2, admittedTotal: 0, active: 0 });
    expect(result.stats.oldestWaiterAgeMs).toBeGreaterThanOrEqual(5_000);
    expect(result.stats).not.toHaveProperty("admittedPerSec");
  });
});

function uniqueMissing(eventId: string): string {
  return `${eventId}-missing`;
}
