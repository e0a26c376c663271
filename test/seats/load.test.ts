import { describe, expect, it } from "vitest";
import { StoredSeatStatus as S } from "../../src/redis/outcomes.js";
import { grid, held, seatFixture, seatIdsOf, smallMap } from "./fixtures.js";
import { expectConsistent } from "./invariant.js";

describe("loadSeatMap", () => {
  it("loads sections and tiers with the documented defaults and indexes the event", async () => {
    const f = seatFixture();
    expect(await f.store.loadSeatMap(f.eventId, smallMap())).toEqual({
      kind: "loaded",
      replaced: false,
      seatMap: {
        eventId: f.eventId,
        sections: 2,
        seats: 26,
        tiers: 2,
        capacity: 38,
        holdTtlSeconds: 600,
        maxHoldTtlSeconds: 1800,
        maxSeatsPerUser: 0,
        requirePass: false,
      },
    });
    expect(await f.store.eventIds()).toEqual([f.eventId]);
    const result = await f.store.availability(f.eventId);
    expect(result).toMatchObject({
      kind: "availability",
      availability: {
        event: { capacity: 38, available: 38, held: 0, sold: 0 },
        sections: [
          { section: "A", counts: { capacity: 18, available: 18 } },
          { section: "B", counts: { capacity: 8, available: 8 } },
        ],
        tiers: [
          { tier: "GA", counts: { capacity: 10, available: 10 } },
          { tier: "VIP", counts: { capacity: 2, available: 2 } },
        ],
        seats: [],
      },
    });
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("refuses duplicate seat, section or tier ids without writing anything", async () => {
    const f = seatFixture();
    const k = f.store.keys(f.eventId);
    const dupSeat = { sections: [grid("A", 1, 2), { sectionId: "B", rows: [{ rowId: "1", seatIds: ["b1", "A-R1-2"] }] }], tiers: [] };
    expect(await f.store.loadSeatMap(f.eventId, dupSeat)).toEqual({ kind: "duplicate_id", id: "A-R1-2" });
    expect(await f.store.loadSeatMap(f.eventId, { sections: [grid("A", 1, 1), { sectionId: "A", rows: [] }], tiers: [] })).toEqual({
      kind: "duplicate_id",
      id: "A",
    });
    const dupTier = { sections: [], tiers: [{ tierId: "GA", capacity: 1 }, { tierId: "GA", capacity: 2 }] };
    expect(await f.store.loadSeatMap(f.eventId, dupTier)).toEqual({ kind: "duplicate_id", id: "GA" });
    expect(await f.redis.exists(k.config, k.layout, k.seats, k.counts)).toBe(0);

    await f.store.loadSeatMap(f.eventId, smallMap());
    expect(await f.store.loadSeatMap(f.eventId, dupSeat)).toEqual({ kind: "duplicate_id", id: "A-R1-2" });
    expect(await f.store.availability(f.eventId)).toMatchObject({ availability: { event: { capacity: 38 } } });
  });

  it("refuses to reload while seats are held or sold, and changes nothing", async () => {
    const f = seatFixture();
    await f.store.loadSeatMap(f.eventId, smallMap());
    const hold = held(await f.store.hold(f.eventId, "u1", "h1", { kind: "general_admission", tier: "VIP", quantity: 1 }));
    expect(await f.store.loadSeatMap(f.eventId, { sections: [grid("Z", 1, 1)], tiers: [] })).toEqual({ kind: "seat_map_in_use" });
    await f.store.confirm(f.eventId, hold.holdId, "u1", "order-1");
    expect(await f.store.loadSeatMap(f.eventId, { sections: [grid("Z", 1, 1)], tiers: [] })).toEqual({ kind: "seat_map_in_use" });
    expect(await f.store.getHold(f.eventId, "h1")).toMatchObject({ kind: "hold", hold: { orderId: "order-1" } });
    expect(await f.store.availability(f.eventId)).toMatchObject({ availability: { event: { capacity: 38, sold: 1 } } });
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("replaces everything when nothing is held or sold, including after a release or an unswept expiry", async () => {
    const f = seatFixture();
    await f.store.loadSeatMap(f.eventId, smallMap({ holdTtlSeconds: 60 }));
    held(await f.store.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1"] }));
    await f.store.release(f.eventId, "h1", "u1");
    held(await f.store.hold(f.eventId, "u2", "h2", { kind: "best_available", section: "B", quantity: 2 }));
    f.advance(60_000);

    const next = { sections: [grid("Z", 2, 2)], tiers: [{ tierId: "GA", capacity: 3 }], maxSeatsPerUser: 2, requirePass: true };
    expect(await f.store.loadSeatMap(f.eventId, next)).toMatchObject({
      kind: "loaded",
      replaced: true,
      seatMap: { sections: 1, seats: 4, tiers: 1, capacity: 7, maxSeatsPerUser: 2, requirePass: true },
    });
    expect(await f.store.getHold(f.eventId, "h2")).toEqual({ kind: "hold_not_found" });
    // The new map requires a pass: without one nothing about the old seats is even looked at.
    expect(await f.store.hold(f.eventId, "u1", "h3", { kind: "seats", seatIds: ["A-R1-1"] })).toEqual({ kind: "pass_required" });
    const result = await f.store.availability(f.eventId, "Z");
    expect(result).toMatchObject({
      kind: "availability",
      availability: {
        settings: { holdTtlSeconds: 600, maxHoldTtlSeconds: 1800, maxSeatsPerUser: 2, requirePass: true },
        event: { capacity: 7, available: 7, held: 0, sold: 0 },
        sections: [{ section: "Z", counts: { capacity: 4, available: 4 } }],
        tiers: [{ tier: "GA", counts: { capacity: 3, available: 3 } }],
      },
    });
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("loads a 100,000-seat venue in one call, and best-available works inside one section", async () => {
    const f = seatFixture();
    const sections = Array.from({ length: 20 }, (_, i) => grid(`S${i + 1}`, 50, 100));
    const loaded = await f.store.loadSeatMap(f.eventId, { sections, tiers: [{ tierId: "GA", capacity: 5000 }] });
    expect(loaded).toMatchObject({ kind: "loaded", seatMap: { sections: 20, seats: 100_000, capacity: 105_000 } });

    // Fill the front of row 1 of S7 but for a gap of 2, so 4 together go to seats 51-54 of row 1.
    const blocked = Array.from({ length: 50 }, (_, i) => `S7-R1-${i + 1}`).filter((id) => id !== "S7-R1-20" && id !== "S7-R1-21");
    held(await f.store.hold(f.eventId, "blocker", "h-block", { kind: "seats", seatIds: blocked }));
    const best = held(await f.store.hold(f.eventId, "u1", "h-best", { kind: "best_available", section: "S7", quantity: 4 }));
    expect(seatIdsOf(best)).toEqual(["S7-R1-51", "S7-R1-52", "S7-R1-53", "S7-R1-54"]);

    const result = await f.store.availability(f.eventId, "S7");
    if (result.kind !== "availability") throw new Error(result.kind);
    const { sections: counts, seats, event } = result.availability;
    expect(event).toEqual({ capacity: 105_000, available: 104_948, held: 52, sold: 0 });
    expect(counts.find((s) => s.section === "S7")?.counts).toEqual({ capacity: 5000, available: 4948, held: 52, sold: 0 });
    expect(counts.filter((s) => s.counts.held > 0).map((s) => s.section)).toEqual(["S7"]);
    expect(seats).toHaveLength(5000);
    expect(seats[0]).toEqual({ seatId: "S7-R1-1", section: "S7", row: "R1", status: S.HELD });
    expect(seats[19]?.status).toBe(S.AVAILABLE);
    expect(seats[4999]).toEqual({ seatId: "S7-R50-100", section: "S7", row: "R50", status: S.AVAILABLE });
    expect(seats.filter((s) => s.status === S.HELD)).toHaveLength(52);
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });
});
