import { describe, expect, it } from "vitest";
import { QueueStore } from "../../src/queue/queue-store.js";
import { StoredHoldState as H, StoredTicketState as T } from "../../src/redis/outcomes.js";
import type { SeatSelection } from "../../src/seats/types.js";
import { grid, held, outbox, seatFixture, seatIdsOf, smallMap, type SeatFixture } from "./fixtures.js";
import { expectConsistent } from "./invariant.js";

async function loaded(overrides: Parameters<typeof smallMap>[0] = {}): Promise<SeatFixture> {
  const f = seatFixture();
  await f.store.loadSeatMap(f.eventId, smallMap(overrides));
  return f;
}

/** Everything a refused hold must leave alone. */
async function snapshot(f: SeatFixture): Promise<unknown> {
  const k = f.store.keys(f.eventId);
  return Promise.all([f.redis.hgetall(k.taken), f.redis.hgetall(k.holds), f.redis.hgetall(k.counts), f.redis.hgetall(k.users), f.redis.xlen(k.log)]);
}

describe("holdSeats", () => {
  it("refuses an event without a seat map, writing nothing", async () => {
    const f = seatFixture();
    expect(await f.store.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["a"] })).toEqual({ kind: "event_not_found" });
    const k = f.store.keys(f.eventId);
    expect(await f.redis.exists(k.holds, k.taken, k.log, k.counts)).toBe(0);
  });

  it("holds explicit seats, a GA quantity and best-available seats, with an outbox entry each", async () => {
    const f = await loaded();
    const seats = held(await f.store.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["B-R2-4", "A-R1-1", "B-R2-4"] }));
    expect(seats).toMatchObject({ holdId: "h1", userId: "u1", state: H.HELD, quantity: 2, tier: undefined, orderId: undefined });
    expect(seats.seats).toEqual([
      { seatId: "B-R2-4", section: "B", row: "R2" },
      { seatId: "A-R1-1", section: "A", row: "R1" },
    ]);
    expect(seats.expiresAtMs - seats.createdAtMs).toBe(600_000);
    const ga = held(await f.store.hold(f.eventId, "u2", "h2", { kind: "general_admission", tier: "GA", quantity: 3 }));
    expect(ga).toMatchObject({ seats: [], tier: "GA", quantity: 3 });
    const best = held(await f.store.hold(f.eventId, "u3", "h3", { kind: "best_available", section: "A", quantity: 2 }));
    expect(seatIdsOf(best)).toEqual(["A-R1-2", "A-R1-3"]);

    expect(await outbox(f)).toEqual([
      { type: "seat.map_loaded", sections: "2", seats: "26", tiers: "2", capacity: "38", replaced: "0" },
      { type: "seat.held", hold: "h1", user: "u1", seats: "B|R2|B-R2-4,A|R1|A-R1-1", tier: "", quantity: "2", expires: String(seats.expiresAtMs) },
      { type: "seat.held", hold: "h2", user: "u2", seats: "", tier: "GA", quantity: "3", expires: String(ga.expiresAtMs) },
      { type: "seat.held", hold: "h3", user: "u3", seats: "A|R1|A-R1-2,A|R1|A-R1-3", tier: "", quantity: "2", expires: String(best.expiresAtMs) },
    ]);
    expect(await f.store.availability(f.eventId)).toMatchObject({
      availability: {
        event: { capacity: 38, available: 31, held: 7 },
        sections: [{ counts: { available: 15, held: 3 } }, { counts: { available: 7, held: 1 } }],
        tiers: [{ counts: { available: 7, held: 3 } }, { counts: { available: 2, held: 0 } }],
      },
    });
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("caps a hold's first lifetime at the maximum hold lifetime", async () => {
    const f = await loaded({ holdTtlSeconds: 600, maxHoldTtlSeconds: 300 });
    const hold = held(await f.store.hold(f.eventId, "u1", "h1", { kind: "general_admission", tier: "GA", quantity: 1 }));
    expect(hold.expiresAtMs - hold.createdAtMs).toBe(300_000);
  });

  it("returns the existing hold to a retry with the same id, and refuses the id to anyone else", async () => {
    const f = await loaded();
    const first = held(await f.store.hold(f.eventId, "u1", "h1", { kind: "general_admission", tier: "GA", quantity: 2 }));
    const before = await snapshot(f);
    expect(await f.store.hold(f.eventId, "u1", "h1", { kind: "general_admission", tier: "GA", quantity: 2 })).toEqual({ kind: "already_held", hold: first });
    expect(await f.store.hold(f.eventId, "u2", "h1", { kind: "seats", seatIds: ["A-R1-1"] })).toEqual({ kind: "hold_id_taken" });
    expect(await snapshot(f)).toEqual(before);
    await f.store.release(f.eventId, "h1", "u1");
    expect(await f.store.hold(f.eventId, "u1", "h1", { kind: "general_admission", tier: "GA", quantity: 2 })).toMatchObject({
      kind: "already_held",
      hold: { state: H.RELEASED },
    });
  });

  it("names unknown seats, sections and tiers, writing nothing", async () => {
    const f = await loaded();
    const before = await snapshot(f);
    expect(await f.store.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["nope-1", "A-R1-1", "nope-2"] })).toEqual({
      kind: "unknown_seat",
      seatIds: ["nope-1", "nope-2"],
    });
    expect(await f.store.hold(f.eventId, "u1", "h2", { kind: "best_available", section: "Q", quantity: 1 })).toEqual({ kind: "unknown_section" });
    expect(await f.store.hold(f.eventId, "u1", "h3", { kind: "general_admission", tier: "A", quantity: 1 })).toEqual({ kind: "unknown_tier" });
    expect(await snapshot(f)).toEqual(before);
  });

  it("lists the requested seats that are held or sold, and holds none of the others", async () => {
    const f = await loaded();
    held(await f.store.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1"] }));
    held(await f.store.hold(f.eventId, "u2", "h2", { kind: "seats", seatIds: ["A-R1-3"] }));
    await f.store.confirm(f.eventId, "h2", "u2", "o-2");
    const before = await snapshot(f);
    expect(await f.store.hold(f.eventId, "u3", "h3", { kind: "seats", seatIds: ["A-R1-1", "A-R1-2", "A-R1-3"] })).toEqual({
      kind: "seat_unavailable",
      seatIds: ["A-R1-1", "A-R1-3"],
    });
    expect(await snapshot(f)).toEqual(before);
  });

  it("reports sold out with what is left, for a tier and for a section", async () => {
    const f = await loaded();
    held(await f.store.hold(f.eventId, "u1", "h1", { kind: "general_admission", tier: "VIP", quantity: 1 }));
    held(await f.store.hold(f.eventId, "u1", "h2", { kind: "best_available", section: "B", quantity: 5 }));
    const before = await snapshot(f);
    expect(await f.store.hold(f.eventId, "u2", "h3", { kind: "general_admission", tier: "VIP", quantity: 2 })).toEqual({ kind: "sold_out", available: 1 });
    expect(await f.store.hold(f.eventId, "u2", "h4", { kind: "best_available", section: "B", quantity: 4 })).toEqual({ kind: "sold_out", available: 3 });
    expect(await snapshot(f)).toEqual(before);
    held(await f.store.hold(f.eventId, "u2", "h5", { kind: "best_available", section: "B", quantity: 3 }));
    expect(await f.store.hold(f.eventId, "u2", "h6", { kind: "best_available", section: "B", quantity: 1 })).toEqual({ kind: "sold_out", available: 0 });
  });

  it("caps a user's held plus sold seats, and frees the allowance on release", async () => {
    const f = await loaded({ maxSeatsPerUser: 4 });
    held(await f.store.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1", "A-R1-2"] }));
    held(await f.store.hold(f.eventId, "u1", "h2", { kind: "general_admission", tier: "GA", quantity: 1 }));
    await f.store.confirm(f.eventId, "h2", "u1", "o-1");
    const before = await snapshot(f);
    expect(await f.store.hold(f.eventId, "u1", "h3", { kind: "best_available", section: "A", quantity: 2 })).toEqual({
      kind: "seat_limit_reached",
      remaining: 1,
    });
    expect(await snapshot(f)).toEqual(before);
    held(await f.store.hold(f.eventId, "u2", "h4", { kind: "best_available", section: "A", quantity: 4 }));
    await f.store.release(f.eventId, "h1", "u1");
    held(await f.store.hold(f.eventId, "u1", "h5", { kind: "best_available", section: "A", quantity: 3 }));
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("frees a seat whose hold expired before any sweep reached it", async () => {
    const f = seatFixture();
    await f.store.loadSeatMap(f.eventId, { sections: [grid("A", 1, 2)], tiers: [{ tierId: "GA", capacity: 40 }], holdTtlSeconds: 60 });
    for (let i = 0; i < 33; i++) held(await f.store.hold(f.eventId, `ga-${i}`, `ga-${i}`, { kind: "general_admission", tier: "GA", quantity: 1 }));
    f.advance(1_000);
    held(await f.store.hold(f.eventId, "late", "h-late", { kind: "seats", seatIds: ["A-R1-1"] }));
    f.advance(60_000);
    // The script's own sweep takes the 32 earliest; the seat's blocker is expired on the spot.
    const hold = held(await f.store.hold(f.eventId, "next", "h-next", { kind: "seats", seatIds: ["A-R1-1"] }));
    expect(seatIdsOf(hold)).toEqual(["A-R1-1"]);
    expect(await f.store.getHold(f.eventId, "h-late")).toMatchObject({ hold: { state: H.EXPIRED } });
    expect((await outbox(f)).filter((e) => e.type === "seat.expired" && e.hold === "h-late")).toHaveLength(1);
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });
});

describe("best available", () => {
  const A = (row: number, ...seats: number[]): string[] => seats.map((s) => `A-R${row}-${s}`);
  let n = 0;

  async function pick(f: SeatFixture, quantity: number): Promise<string[]> {
    const selection: SeatSelection = { kind: "best_available", section: "A", quantity };
    return seatIdsOf(held(await f.store.hold(f.eventId, `u-${quantity}`, `best-${n++}`, selection)));
  }

  async function block(f: SeatFixture, seatIds: string[]): Promise<void> {
    held(await f.store.hold(f.eventId, "blocker", `block-${n++}`, { kind: "seats", seatIds }));
  }

  it("takes the leftmost run of the front-most row that has one", async () => {
    const f = await loaded();
    await block(f, [...A(1, 2, 5), ...A(2, 4)]);
    // Row 1 free: 1, 3-4, 6. Row 2 free: 1-3, 5-6. Row 3 all free.
    expect(await pick(f, 2)).toEqual(A(1, 3, 4));
    expect(await pick(f, 3)).toEqual(A(2, 1, 2, 3));
    expect(await pick(f, 1)).toEqual(A(1, 1));
    expect(await pick(f, 6)).toEqual(A(3, 1, 2, 3, 4, 5, 6));
  });

  it("splits into the fewest blocks, largest first, ties to the front, the last block from its left", async () => {
    const f = await loaded();
    await block(f, [...A(1, 3, 4), ...A(2, 1, 5), ...A(3, 2, 3, 4, 5, 6)]);
    // Runs: R1 1-2 (2), R1 5-6 (2), R2 2-4 (3), R2 6 (1), R3 1 (1). No row has 4 together.
    expect(await pick(f, 4)).toEqual([...A(1, 1), ...A(2, 2, 3, 4)]);
    // Left: R1 2 (1), R1 5-6 (2), R2 6 (1), R3 1 (1): 2 + then the front-most single.
    expect(await pick(f, 3)).toEqual(A(1, 2, 5, 6));
    expect(await pick(f, 2)).toEqual([...A(2, 6), ...A(3, 1)]);
    expect(await f.store.hold(f.eventId, "u", "h-none", { kind: "best_available", section: "A", quantity: 1 })).toEqual({ kind: "sold_out", available: 0 });
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });
});

describe("holdSeats with a seat map that requires an admission pass", () => {
  it("refuses without a verified pass or an active admission session, writing nothing", async () => {
    const f = seatFixture();
    const queue = new QueueStore(f.redis, { keyPrefix: f.prefix });
    await f.store.loadSeatMap(f.eventId, { sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2"] }] }], tiers: [], requirePass: true });
    expect(await f.store.hold(f.eventId, "u1", "hold-a", { kind: "seats", seatIds: ["A1"] })).toEqual({ kind: "pass_required" });
    expect(await f.store.hold(f.eventId, "u1", "hold-b", { kind: "seats", seatIds: ["A1"] }, { passVerified: true })).toEqual({ kind: "session_not_active" });
    expect(await f.redis.hlen(f.store.keys(f.eventId).holds)).toBe(0);

    // Admitted through the event's queue: the session is active until it is confirmed away.
    await queue.configure(f.eventId, {});
    await queue.join(f.eventId, "u1");
    expect(await queue.admit(f.eventId, {})).toMatchObject({ kind: "admission", admitted: 1 });
    const held = await f.store.hold(f.eventId, "u1", "hold-c", { kind: "seats", seatIds: ["A1"] }, { passVerified: true });
    expect(held.kind).toBe("held");
    expect((await f.store.confirm(f.eventId, "hold-c", "u1", "order-1")).kind).toBe("confirmed");
    expect(await f.redis.zscore(queue.keys(f.eventId).active, "u1")).toBeNull();
    expect(await queue.position(f.eventId, "u1")).toMatchObject({ ticket: { state: T.LEFT } });
    expect(await f.store.hold(f.eventId, "u1", "hold-d", { kind: "seats", seatIds: ["A2"] }, { passVerified: true })).toEqual({ kind: "session_not_active" });
  });
});
