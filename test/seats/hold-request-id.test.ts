import { describe, expect, it } from "vitest";
import { QueueStore } from "../../src/queue/queue-store.js";
import { StoredHoldState as H } from "../../src/redis/outcomes.js";
import { holdRequestKey } from "../../src/seats/keys.js";
import type { HoldResult, SeatSelection } from "../../src/seats/types.js";
import { held, outbox, seatFixture, seatIdsOf, smallMap, type SeatFixture } from "./fixtures.js";
import { expectConsistent } from "./invariant.js";

/**
 * HoldSeats' request id: an idempotency key per (event, user) that makes a
 * retry of a call with an unknown outcome converge on the first call's hold.
 */

async function loaded(overrides: Parameters<typeof smallMap>[0] = {}): Promise<SeatFixture> {
  const f = seatFixture();
  await f.store.loadSeatMap(f.eventId, smallMap(overrides));
  return f;
}

/** Everything a retry must leave alone. */
async function snapshot(f: SeatFixture): Promise<unknown> {
  const k = f.store.keys(f.eventId);
  return Promise.all([f.redis.hgetall(k.taken), f.redis.hgetall(k.holds), f.redis.hgetall(k.counts), f.redis.hgetall(k.users), f.redis.xlen(k.log)]);
}

const TWO_SEATS: SeatSelection = { kind: "seats", seatIds: ["A-R1-1", "A-R1-2"] };

function hold(f: SeatFixture, user: string, holdId: string, selection: SeatSelection, requestId: string): Promise<HoldResult> {
  return f.store.hold(f.eventId, user, holdId, selection, { requestId });
}

describe("holdSeats with a request id", () => {
  it("returns the first call's hold to a retry (another hold id), taking and logging nothing more", async () => {
    const f = await loaded({ maxSeatsPerUser: 2 });
    const first = held(await hold(f, "u1", "h1", TWO_SEATS, "req-1"));
    const before = await snapshot(f);
    // Under the per-user cap of 2, a second hold of 2 would be refused: the retry is not one.
    expect(await hold(f, "u1", "h2", TWO_SEATS, "req-1")).toEqual({ kind: "already_held", hold: first });
    expect(await snapshot(f)).toEqual(before);
    expect((await outbox(f)).filter((e) => e.type === "seat.held")).toHaveLength(1);
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("makes one hold of many concurrent calls with one request id, on separate connections", async () => {
    const f = await loaded();
    const stores = Array.from({ length: 8 }, () => f.connect());
    const selection: SeatSelection = { kind: "best_available", section: "A", quantity: 3 };
    const results = await Promise.all(stores.map((store, i) => store.hold(f.eventId, "u1", `h${i}`, selection, { requestId: "req-1" })));
    const winners = results.filter((r) => r.kind === "held");
    expect(winners).toHaveLength(1);
    const hold = held(winners[0] as HoldResult);
    for (const result of results) expect(result).toMatchObject({ hold: { holdId: hold.holdId, seats: hold.seats, expiresAtMs: hold.expiresAtMs } });
    expect(await f.redis.hget(f.store.keys(f.eventId).users, "u1")).toBe("3");
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it.each<[string, SeatSelection]>([
    ["other seats", { kind: "seats", seatIds: ["A-R1-1", "A-R1-3"] }],
    ["the same seats in another order", { kind: "seats", seatIds: ["A-R1-2", "A-R1-1"] }],
    ["a tier", { kind: "general_admission", tier: "GA", quantity: 2 }],
    ["best available", { kind: "best_available", section: "A", quantity: 2 }],
  ])("refuses the same request id with %s, writing nothing", async (_, other) => {
    const f = await loaded();
    held(await hold(f, "u1", "h1", TWO_SEATS, "req-1"));
    const before = await snapshot(f);
    expect(await hold(f, "u1", "h2", other, "req-1")).toEqual({ kind: "request_id_reused" });
    expect(await snapshot(f)).toEqual(before);
  });

  it("tells a quantity apart and a tier apart", async () => {
    const f = await loaded();
    held(await hold(f, "u1", "h1", { kind: "general_admission", tier: "GA", quantity: 2 }, "req-1"));
    expect(await hold(f, "u1", "h2", { kind: "general_admission", tier: "GA", quantity: 3 }, "req-1")).toEqual({ kind: "request_id_reused" });
    expect(await hold(f, "u1", "h2", { kind: "general_admission", tier: "VIP", quantity: 2 }, "req-1")).toEqual({ kind: "request_id_reused" });
  });

  it("keeps each user's keys apart: the same request id of another user makes that user's own hold", async () => {
    const f = await loaded();
    const mine = held(await hold(f, "u1", "h1", { kind: "general_admission", tier: "GA", quantity: 1 }, "req-1"));
    const theirs = held(await hold(f, "u2", "h2", { kind: "general_admission", tier: "GA", quantity: 1 }, "req-1"));
    expect(theirs.holdId).not.toBe(mine.holdId);
    // `|` separates user and request id in the key, so "a:b" + "c" and "a" + "b:c" stay apart.
    expect(holdRequestKey("bo:", "e", "a:b", "c")).not.toBe(holdRequestKey("bo:", "e", "a", "b:c"));
  });

  it("returns the hold as it stands after it was extended, released or confirmed, never taking seats again", async () => {
    const f = await loaded();
    held(await hold(f, "u1", "h1", TWO_SEATS, "req-1"));
    f.advance(60_000);
    const extended = await f.store.extend(f.eventId, "h1", "u1");
    expect(extended.kind).toBe("extended");
    expect(await hold(f, "u1", "h9", TWO_SEATS, "req-1")).toEqual({ kind: "already_held", hold: (extended as { hold: unknown }).hold });

    expect(await f.store.confirm(f.eventId, "h1", "u1", "order-1")).toMatchObject({ kind: "confirmed" });
    const before = await snapshot(f);
    expect(await hold(f, "u1", "h9", TWO_SEATS, "req-1")).toMatchObject({ kind: "already_held", hold: { holdId: "h1", state: H.CONFIRMED, orderId: "order-1" } });
    expect(await snapshot(f)).toEqual(before);

    held(await hold(f, "u1", "h2", { kind: "seats", seatIds: ["B-R1-1"] }, "req-2"));
    expect((await f.store.release(f.eventId, "h2", "u1")).kind).toBe("released");
    expect(await hold(f, "u1", "h9", { kind: "seats", seatIds: ["B-R1-1"] }, "req-2")).toMatchObject({
      kind: "already_held",
      hold: { holdId: "h2", state: H.RELEASED },
    });
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("reports a hold that ran out as EXPIRED, its seats back on sale, whether a sweep or the retry expires it", async () => {
    const f = await loaded({ holdTtlSeconds: 60 });
    const swept = held(await hold(f, "u1", "h1", TWO_SEATS, "req-1"));
    const unswept = held(await hold(f, "u2", "h2", { kind: "seats", seatIds: ["B-R1-1"] }, "req-1"));
    f.advance(61_000);
    await f.store.sweep(f.eventId, 1);
    expect(await hold(f, "u1", "h9", TWO_SEATS, "req-1")).toMatchObject({ kind: "already_held", hold: { holdId: swept.holdId, state: H.EXPIRED } });
    expect(await hold(f, "u2", "h9", { kind: "seats", seatIds: ["B-R1-1"] }, "req-1")).toMatchObject({
      kind: "already_held",
      hold: { holdId: unswept.holdId, state: H.EXPIRED },
    });
    expect(await f.store.availability(f.eventId)).toMatchObject({ availability: { event: { held: 0 } } });
    expect(await f.redis.hget(f.store.keys(f.eventId).users, "u1")).toBeNull();
    // A new request id holds the seats anew.
    expect(seatIdsOf(held(await hold(f, "u1", "h3", TWO_SEATS, "req-2")))).toEqual(["A-R1-1", "A-R1-2"]);
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("remembers a key for the event's maximum hold lifetime, and only for a request that carries one", async () => {
    const f = await loaded({ holdTtlSeconds: 60, maxHoldTtlSeconds: 900 });
    held(await hold(f, "u1", "h1", TWO_SEATS, "req-1"));
    const ttl = await f.redis.pttl(holdRequestKey(f.prefix, f.eventId, "u1", "req-1"));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(900_000);
    // A key is in the event's hash slot.
    expect(holdRequestKey(f.prefix, f.eventId, "u1", "req-1")).toContain(`{${f.eventId}}`);

    held(await f.store.hold(f.eventId, "u2", "h2", { kind: "seats", seatIds: ["B-R1-1"] }));
    expect(await f.redis.exists(holdRequestKey(f.prefix, f.eventId, "u2", ""))).toBe(0);
    // Without a request id nothing is deduplicated: each call is a new hold.
    held(await f.store.hold(f.eventId, "u2", "h3", { kind: "seats", seatIds: ["B-R1-2"] }));
  });

  it("with a pass required: answers a retry after the sale ended the session, but never without a verified pass", async () => {
    const f = seatFixture();
    const queue = new QueueStore(f.redis, { keyPrefix: f.prefix });
    await f.store.loadSeatMap(f.eventId, { sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2"] }] }], tiers: [], requirePass: true });
    await queue.configure(f.eventId, {});
    await queue.join(f.eventId, "u1");
    expect(await queue.admit(f.eventId, {})).toMatchObject({ kind: "admission", admitted: 1 });
    const selection: SeatSelection = { kind: "seats", seatIds: ["A1"] };
    held(await f.store.hold(f.eventId, "u1", "h1", selection, { passVerified: true, requestId: "req-1" }));
    expect((await f.store.confirm(f.eventId, "h1", "u1", "order-1")).kind).toBe("confirmed");

    expect(await f.store.hold(f.eventId, "u1", "h2", selection, { passVerified: true, requestId: "req-1" })).toMatchObject({
      kind: "already_held",
      hold: { holdId: "h1", state: H.CONFIRMED },
    });
    expect(await f.store.hold(f.eventId, "u1", "h2", selection, { requestId: "req-1" })).toEqual({ kind: "pass_required" });
    expect(await f.store.hold(f.eventId, "u1", "h2", selection, { passVerified: true, requestId: "req-2" })).toEqual({ kind: "session_not_active" });
  });

  it("makes a new hold when the key's hold is gone with a replaced seat map", async () => {
    const f = await loaded();
    held(await hold(f, "u1", "h1", TWO_SEATS, "req-1"));
    await f.store.release(f.eventId, "h1", "u1");
    expect(await f.store.loadSeatMap(f.eventId, smallMap())).toMatchObject({ kind: "loaded", replaced: true });
    expect(held(await hold(f, "u1", "h2", TWO_SEATS, "req-1")).holdId).toBe("h2");
    expect(await hold(f, "u1", "h3", TWO_SEATS, "req-1")).toMatchObject({ kind: "already_held", hold: { holdId: "h2" } });
  });
});
