import { describe, expect, it } from "vitest";
import { encodeLayout, validateSeatMap } from "../../src/seats/seat-map.js";
import { grid, smallMap } from "./fixtures.js";

describe("validateSeatMap", () => {
  it("accepts a well-formed map", () => {
    expect(validateSeatMap(smallMap())).toEqual([]);
    expect(validateSeatMap({ sections: [], tiers: [{ tierId: "GA", capacity: 5 }] })).toEqual([]);
  });

  it("lists every problem at once, by field path", () => {
    const problems = validateSeatMap({
      sections: [
        { sectionId: "A", rows: [{ rowId: "1", seatIds: ["a1", "a2", "a1"] }, { rowId: "1", seatIds: [] }] },
        { sectionId: "A", rows: [] },
        { sectionId: "bad id", rows: [{ rowId: "r", seatIds: ["x,y", "a2"] }] },
      ],
      tiers: [
        { tierId: "GA", capacity: 0 },
        { tierId: "GA", capacity: 1.5 },
      ],
      holdTtlSeconds: 900,
      maxHoldTtlSeconds: 600,
      maxSeatsPerUser: -1,
    });
    expect(problems.map((p) => p.field)).toEqual([
      "sections[0].rows[0].seat_ids[2]",
      "sections[0].rows[1].row_id",
      "sections[0].rows[1].seat_ids",
      "sections[1].section_id",
      "sections[1].rows",
      "sections[2].section_id",
      "sections[2].rows[0].seat_ids[0]",
      "sections[2].rows[0].seat_ids[1]",
      "tiers[0].capacity",
      "tiers[1].tier_id",
      "tiers[1].capacity",
      "max_hold_ttl_seconds",
      "max_seats_per_user",
    ]);
    expect(problems[0]?.description).toMatch(/duplicate seat a1/);
  });

  it("refuses an empty map and one over the seat limit", () => {
    expect(validateSeatMap({ sections: [], tiers: [] }).map((p) => p.field)).toEqual(["sections"]);
    const huge = { sections: [grid("A", 201, 1000)], tiers: [] };
    expect(validateSeatMap(huge).map((p) => p.description)).toEqual(["at most 200000 seats, got 201000"]);
  });
});

describe("encodeLayout", () => {
  it("puts a section in one argument, rows front to back, seats left to right", () => {
    expect(encodeLayout(grid("A", 2, 3))).toBe("R1=A-R1-1,A-R1-2,A-R1-3;R2=A-R2-1,A-R2-2,A-R2-3");
  });

  it("throws on an id that would break the encoding", () => {
    expect(() => encodeLayout({ sectionId: "A", rows: [{ rowId: "1", seatIds: ["a,b"] }] })).toThrow(/invalid id/);
    expect(() => encodeLayout({ sectionId: "A", rows: [{ rowId: "1=2", seatIds: ["a"] }] })).toThrow(/invalid id/);
  });
});
