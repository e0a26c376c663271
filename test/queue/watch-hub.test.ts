import { describe, expect, it } from "vitest";
import { StoredTicketState as T } from "../../src/redis/outcomes.js";
import type { WatchItem } from "../../src/queue/watcher.js";
import { SeatStore } from "../../src/seats/seat-store.js";
import { queueFixture, storedTicket, testHub, testWatch } from "./fixtures.js";

/** Pulls items from a watch one at a time, so the test decides when to act. */
function reader_(stream: AsyncGenerator<WatchItem>) {
  return {
    async next(): Promise<WatchItem> {
      const result = await stream.next();
      if (result.done) throw new Error("stream ended");
      return result.value;
    },
    async ended(): Promise<boolean> {
      return (await stream.next()).done === true;
    },
  };
}

describe("WatchHub", () => {
  it("sends the ticket at once, then each position change, and ends after LEFT", async () => {
    const f = await queueFixture();
    const hub = testHub(f);
    await f.store.configure(f.eventId, {});
    for (const u of ["a", "b", "c"]) await f.store.join(f.eventId, u);
    const watch = reader_(hub.watch(f.eventId, "c", new AbortController().signal));
    expect(await watch.next()).toMatchObject({ kind: "ticket", ticket: { position: 3, state: T.WAITING } });
    await f.store.leave(f.eventId, "a");
    expect(await watch.next()).toMatchObject({ kind: "ticket", ticket: { position: 2, waitingTotal: 2 } });
    await f.store.leave(f.eventId, "c");
    expect(await watch.next()).toMatchObject({ kind: "ticket", ticket: { position: 0, state: T.LEFT } });
    expect(await watch.ended()).toBe(true);
    await hub.stopped(f.eventId);
    expect(hub.eventsWatched).toBe(0);
  });

  it("serves many watchers of one event with one loop and exact positions", async () => {
    const f = await queueFixture();
    const hub = testHub(f, { batchSize: 7 });
    await f.store.configure(f.eventId, {});
    const users = Array.from({ length: 30 }, (_, i) => `u${i}`);
    for (const u of users) await f.store.join(f.eventId, u);
    const watches = users.map((u) => reader_(hub.watch(f.eventId, u, new AbortController().signal)));
    const first = await Promise.all(watches.map((w) => w.next()));
    expect(first.map((i) => (i.kind === "ticket" ? i.ticket.position : -1))).toEqual(users.map((_, i) => i + 1));
    expect(hub.eventsWatched).toBe(1);
    // Remove every even user: each odd user i moves to (i + 1) / 2.
    await Promise.all(users.filter((_, i) => i % 2 === 0).map((u) => f.store.leave(f.eventId, u)));
    const odd = watches.filter((_, i) => i % 2 === 1);
    const after = await Promise.all(odd.map((w) => w.next()));
    expect(after.map((i) => (i.kind === "ticket" ? i.ticket.position : -1))).toEqual(odd.map((_, j) => j + 1));
    const even = watches.filter((_, i) => i % 2 === 0);
    for (const item of await Promise.all(even.map((w) => w.next()))) {
      expect(item).toMatchObject({ kind: "ticket", ticket: { state: T.LEFT } });
    }
  });

  it("recovers exact positions through a resync when more changed than one tick reads", async () => {
    const f = await queueFixture();
    const hub = testHub(f, { maxChangesPerTick: 3 });
    await f.store.configure(f.eventId, {});
    const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
    for (const u of users) await f.store.join(f.eventId, u);
    const last = reader_(hub.watch(f.eventId, "u11", new AbortController().signal));
    expect(await last.next()).toMatchObject({ ticket: { position: 12 } });
    await Promise.all(users.slice(0, 8).map((u) => f.store.leave(f.eventId, u)));
    expect(await last.next()).toMatchObject({ ticket: { position: 4, waitingTotal: 4 } });
  });

  it("survives its cursor being trimmed away by retention: everyone is read again, at their exact places", async () => {
    const f = await queueFixture();
    // The loop ticks only when new watchers wait or the test wakes it.
    const { hub, reader } = testWatch(f, { intervalMs: 3_600_000 });
    await f.store.configure(f.eventId, {});
    for (const u of ["a", "b", "c", "d"]) await f.store.join(f.eventId, u);
    const c = reader_(hub.watch(f.eventId, "c", new AbortController().signal));
    const d = reader_(hub.watch(f.eventId, "d", new AbortController().signal));
    expect(await c.next()).toMatchObject({ ticket: { position: 3 } });
    expect(await d.next()).toMatchObject({ ticket: { position: 4 } });
    // Two leave, and retention removes their entries with the loop's cursor before it reads again.
    await f.store.leave(f.eventId, "a");
    await f.store.leave(f.eventId, "b");
    await f.redis.xtrim(f.store.keys(f.eventId).log, "MAXLEN", 0);
    reader.wake(f.eventId);
    expect(await c.next()).toMatchObject({ kind: "ticket", ticket: { position: 1, waitingTotal: 2 } });
    expect(await d.next()).toMatchObject({ kind: "ticket", ticket: { position: 2, waitingTotal: 2 } });
    // And it follows the entries after the jump.
    await f.store.leave(f.eventId, "c");
    reader.wake(f.eventId);
    expect(await c.next()).toMatchObject({ kind: "ticket", ticket: { state: T.LEFT } });
    expect(await d.next()).toMatchObject({ kind: "ticket", ticket: { position: 1 } });
  });

  it("ignores outbox types it does not follow, whatever their fields", async () => {
    const f = await queueFixture();
    const hub = testHub(f);
    await f.store.configure(f.eventId, {});
    for (const u of ["a", "b", "c"]) await f.store.join(f.eventId, u);
    const watch = reader_(hub.watch(f.eventId, "c", new AbortController().signal));
    expect(await watch.next()).toMatchObject({ ticket: { position: 3 } });
    const log = f.store.keys(f.eventId).log;
    await f.redis.xadd(log, "*", "type", "queue.configured", "user", "", "seq", "0", "created", "0", "rate", "10");
    await f.redis.xadd(log, "*", "type", "some.later_type", "seq", "not a number");
    await f.redis.xadd(log, "*", "type", "seat.map_loaded", "sections", "1");
    await f.store.leave(f.eventId, "a");
    expect(await watch.next()).toMatchObject({ kind: "ticket", ticket: { position: 2 } });
    await f.store.leave(f.eventId, "b");
    expect(await watch.next()).toMatchObject({ kind: "ticket", ticket: { position: 1 } });
  });

  it("walks a fan-out larger than one slice while removals keep coming: positions only fall, and land exactly", async () => {
    const f = await queueFixture();
    const hub = testHub(f, { intervalMs: 5 });
    await f.store.configure(f.eventId, {});
    const users = Array.from({ length: 1200 }, (_, i) => `u${i}`);
    for (let i = 0; i < users.length; i += 200) await Promise.all(users.slice(i, i + 200).map((u) => f.store.join(f.eventId, u)));
    const watched = users.filter((_, i) => i % 2 === 1);
    const watches = watched.map((u) => reader_(hub.watch(f.eventId, u, new AbortController().signal)));
    const first = await Promise.all(watches.map((w) => w.next()));
    expect(first.map((item) => (item.kind === "ticket" ? item.ticket.position : -1))).toEqual(watched.map((u) => users.indexOf(u) + 1));
    // Every even user leaves, in waves the loop applies over several ticks while it fans out.
    const leaving = users.filter((_, i) => i % 2 === 0);
    for (let i = 0; i < leaving.length; i += 50) {
      await Promise.all(leaving.slice(i, i + 50).map((u) => f.store.leave(f.eventId, u)));
    }
    await Promise.all(
      watches.map(async (w, j) => {
        const final = j + 1;
        let position = Number.POSITIVE_INFINITY;
        while (position !== final) {
          const item = await w.next();
          if (item.kind !== "ticket") throw new Error(`watcher ${j}: ${item.kind}`);
          expect(item.ticket.position).toBeLessThan(position);
          expect(item.ticket.position).toBeGreaterThanOrEqual(final);
          position = item.ticket.position;
        }
      }),
    );
  });

  it("skips the seat changes that share the event's outbox", async () => {
    const f = await queueFixture();
    const seats = new SeatStore(f.redis, { keyPrefix: f.keyPrefix });
    const hub = testHub(f);
    await f.store.configure(f.eventId, {});
    await seats.loadSeatMap(f.eventId, { sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2"] }] }], tiers: [] });
    for (const u of ["a", "b"]) await f.store.join(f.eventId, u);
    const watch = reader_(hub.watch(f.eventId, "b", new AbortController().signal));
    expect(await watch.next()).toMatchObject({ ticket: { position: 2 } });
    expect((await seats.hold(f.eventId, "a", "hold-1", { kind: "seats", seatIds: ["A1"] })).kind).toBe("held");
    await f.store.leave(f.eventId, "a");
    expect(await watch.next()).toMatchObject({ kind: "ticket", ticket: { position: 1 } });
  });

  it("reports unknown users and events", async () => {
    const f = await queueFixture();
    const hub = testHub(f);
    expect(await reader_(hub.watch(f.eventId, "x", new AbortController().signal)).next()).toEqual({ kind: "event_not_found" });
    await f.store.configure(f.eventId, {});
    const unknown = reader_(hub.watch(f.eventId, "nobody", new AbortController().signal));
    expect(await unknown.next()).toEqual({ kind: "not_in_queue" });
    expect(await unknown.ended()).toBe(true);
  });

  it("rejects with the abort reason and stops the event's loop when the last watcher goes", async () => {
    const f = await queueFixture();
    const hub = testHub(f);
    await f.store.configure(f.eventId, {});
    await f.store.join(f.eventId, "u1");
    const controller = new AbortController();
    const stream = hub.watch(f.eventId, "u1", controller.signal);
    expect((await stream.next()).value).toMatchObject({ kind: "ticket" });
    const pending = stream.next();
    const reason = new Error("client went away");
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await hub.stopped(f.eventId);
    expect(hub.eventsWatched).toBe(0);
  });

  it("keeps a watched user's place past the idle timeout", async () => {
    const f = await queueFixture();
    let loopNow = Date.now();
    const hub = testHub(f, { now: () => loopNow });
    await f.store.configure(f.eventId, { idleTimeoutSeconds: 3 });
    await f.store.join(f.eventId, "watched");
    await f.store.join(f.eventId, "idle");
    const watch = reader_(hub.watch(f.eventId, "watched", new AbortController().signal));
    expect(await watch.next()).toMatchObject({ ticket: { position: 1 } });
    const seen = async (user: string): Promise<number> => (await storedTicket(f, user))?.seenMs ?? NaN;
    const before = await seen("watched");
    // The loop refreshes presence every idle/3 = 1 s of its clock; both clocks move by that.
    loopNow += 1000;
    f.advance(1000);
    await hub.ticked(f.eventId);
    const refreshed = await seen("watched");
    expect(refreshed).toBeGreaterThan(before);
    expect(await seen("idle")).toBeLessThan(refreshed);
    // Past the idle timeout, the idle user is swept and the watched one stays.
    loopNow += 2500;
    f.advance(2500);
    await hub.ticked(f.eventId);
    expect(await f.store.sweep(f.eventId, 10)).toMatchObject({ kind: "swept", expired: 1 });
    expect(await f.store.position(f.eventId, "watched")).toMatchObject({ kind: "ticket", ticket: { state: T.WAITING, position: 1 } });
  });
});

describe("WatchHub with admissions", () => {
  const SLOW = { admitRatePerSec: 0.004, idleTimeoutSeconds: 3600 } as const;

  it("delivers ADMITTED with the session to the watcher and moves the others up", async () => {
    const f = await queueFixture();
    const hub = testHub(f);
    await f.store.configure(f.eventId, { ...SLOW, admitBurst: 1, sessionTtlSeconds: 90 });
    for (const u of ["a", "b", "c"]) await f.store.join(f.eventId, u);
    const first = reader_(hub.watch(f.eventId, "a", new AbortController().signal));
    const third = reader_(hub.watch(f.eventId, "c", new AbortController().signal));
    expect(await first.next()).toMatchObject({ ticket: { position: 1, state: T.WAITING } });
    expect(await third.next()).toMatchObject({ ticket: { position: 3 } });

    expect(await f.store.admit(f.eventId)).toMatchObject({ admitted: 1 });
    const admitted = await first.next();
    const stored = await f.store.position(f.eventId, "a");
    if (admitted.kind !== "ticket" || stored.kind !== "ticket") throw new Error("no ticket");
    expect(admitted.ticket).toMatchObject({ state: T.ADMITTED, position: 0, waitingTotal: 2 });
    expect(admitted.ticket.issuedAtMs).toBe(stored.ticket.issuedAtMs);
    expect(admitted.ticket.expiresAtMs).toBe((stored.ticket.issuedAtMs ?? 0) + 90_000);
    expect(await first.ended()).toBe(true);
    expect(await third.next()).toMatchObject({ ticket: { position: 2, state: T.WAITING, waitingTotal: 2 } });
  });

  it("moves nobody when an admission session ends, by leave or by expiry", async () => {
    const f = await queueFixture();
    const hub = testHub(f);
    await f.store.configure(f.eventId, { ...SLOW, admitBurst: 2, sessionTtlSeconds: 60 });
    for (const u of ["a", "b", "x", "c"]) await f.store.join(f.eventId, u);
    expect(await f.store.admit(f.eventId)).toMatchObject({ admitted: 2 });
    const watch = reader_(hub.watch(f.eventId, "c", new AbortController().signal));
    expect(await watch.next()).toMatchObject({ ticket: { position: 2 } });

    expect(await f.store.leave(f.eventId, "a")).toMatchObject({ kind: "left" });
    f.advance(60_000);
    expect(await f.store.admit(f.eventId)).toMatchObject({ sessionsEnded: 1, admitted: 0 });
    // Only x, who waited ahead of c, moves c.
    await f.store.leave(f.eventId, "x");
    expect(await watch.next()).toMatchObject({ ticket: { position: 1, state: T.WAITING } });
  });

  it("sends the estimated wait once there is a measured rate", async () => {
    const f = await queueFixture();
    const hub = testHub(f);
    await f.store.configure(f.eventId, { admitRatePerSec: 20, admitBurst: 2, idleTimeoutSeconds: 3600 });
    for (let i = 0; i < 10; i++) await f.store.join(f.eventId, `u${i}`);
    const watch = reader_(hub.watch(f.eventId, "u9", new AbortController().signal));
    const initial = await watch.next();
    expect(initial).toMatchObject({ ticket: { position: 10 } });
    expect(initial.kind === "ticket" && initial.ticket.estimatedWaitSeconds).toBeUndefined();

    await f.store.admit(f.eventId);
    const moved = await watch.next();
    expect(moved).toMatchObject({ ticket: { position: 8 } });
    expect(moved.kind === "ticket" && moved.ticket.estimatedWaitSeconds).toBeUndefined();

    f.advance(250);
    await f.store.admit(f.eventId);
    const stats = await f.store.stats(f.eventId);
    if (stats.kind !== "stats") throw new Error(stats.kind);
    const rate = stats.stats.admittedPerSec ?? 0;
    expect(rate).toBeGreaterThan(0);
    expect(await watch.next()).toMatchObject({ ticket: { position: 6, estimatedWaitSeconds: Math.ceil(6 / rate) } });
    expect(await f.store.position(f.eventId, "u9")).toMatchObject({ ticket: { estimatedWaitSeconds: Math.ceil(6 / rate) } });
  });
});
