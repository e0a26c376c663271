import type { SeatMap } from "./types.js";

/** Defaults and limits of a seat map, shared with the Lua side through the prelude. */
export const SeatMapDefaults = {
  holdTtlSeconds: 600,
  maxHoldTtlSeconds: 1800,
  maxSeatsPerUser: 0,
  /** Reserved seats in one event. */
  maxSeats: 200_000,
} as const;

/** Seat, row, section, tier, hold, user and order ids: they become key parts and layout tokens. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** One problem with a seat map, addressed by its protobuf-style field path. */
export interface SeatMapProblem {
  readonly field: string;
  readonly description: string;
}

/**
 * Checks a seat map's structure before it reaches the store: ids, duplicates
 * (seat ids are unique in the event), empty sections and rows, sizes and
 * settings. Returns every problem at once; empty means valid. The store
 * assumes a valid map (its script still refuses duplicates without writing).
 */
export function validateSeatMap(map: SeatMap): SeatMapProblem[] {
  const problems: SeatMapProblem[] = [];
  const problem = (field: string, description: string): void => {
    problems.push({ field, description });
  };
  const checkId = (field: string, id: string): void => {
    if (!ID_PATTERN.test(id)) {
      problem(field, "must be 1-64 of [A-Za-z0-9._:-], starting with a letter or digit");
    }
  };

  if (map.sections.length === 0 && map.tiers.length === 0) {
    problem("sections", "a seat map needs at least one section or tier");
  }
  const sectionIds = new Set<string>();
  const seatIds = new Set<string>();
  let seats = 0;
  map.sections.forEach((section, s) => {
    const at = `sections[${s}]`;
    checkId(`${at}.section_id`, section.sectionId);
    if (sectionIds.has(section.sectionId)) problem(`${at}.section_id`, `duplicate section ${section.sectionId}`);
    sectionIds.add(section.sectionId);
    if (section.rows.length === 0) problem(`${at}.rows`, "a section needs at least one row");
    const rowIds = new Set<string>();
    section.rows.forEach((row, r) => {
      checkId(`${at}.rows[${r}].row_id`, row.rowId);
      if (rowIds.has(row.rowId)) problem(`${at}.rows[${r}].row_id`, `duplicate row ${row.rowId}`);
      rowIds.add(row.rowId);
      if (row.seatIds.length === 0) problem(`${at}.rows[${r}].seat_ids`, "a row needs at least one seat");
      row.seatIds.forEach((seatId, i) => {
        const field = `${at}.rows[${r}].seat_ids[${i}]`;
        checkId(field, seatId);
        if (seatIds.has(seatId)) problem(field, `duplicate seat ${seatId}`);
        seatIds.add(seatId);
      });
      seats += row.seatIds.length;
    });
  });
  if (seats > SeatMapDefaults.maxSeats) {
    problem("sections", `at most ${SeatMapDefaults.maxSeats} seats, got ${seats}`);
  }

  const tierIds = new Set<string>();
  map.tiers.forEach((tier, t) => {
    checkId(`tiers[${t}].tier_id`, tier.tierId);
    if (tierIds.has(tier.tierId)) problem(`tiers[${t}].tier_id`, `duplicate tier ${tier.tierId}`);
    tierIds.add(tier.tierId);
    if (!isCount(tier.capacity, 1)) problem(`tiers[${t}].capacity`, "must be a positive integer");
  });

  const ttl = map.holdTtlSeconds ?? SeatMapDefaults.holdTtlSeconds;
  const maxTtl = map.maxHoldTtlSeconds ?? SeatMapDefaults.maxHoldTtlSeconds;
  if (!isCount(ttl, 1)) problem("hold_ttl_seconds", "must be a positive integer");
  if (!isCount(maxTtl, 1)) problem("max_hold_ttl_seconds", "must be a positive integer");
  else if (maxTtl < ttl) problem("max_hold_ttl_seconds", `must not be less than hold_ttl_seconds (${ttl})`);
  if (!isCount(map.maxSeatsPerUser ?? 0, 0)) problem("max_seats_per_user", "must be a non-negative integer");
  return problems;
}

function isCount(value: number, min: number): boolean {
  return Number.isSafeInteger(value) && value >= min;
}

/**
 * One section's layout as a single script argument, `row=seat,seat;row=seat`
 * (`= , ;` never occur in ids), so a 100,000-seat venue travels in one call
 * and Lua never unpacks a huge table. An id that could break the encoding is
 * a programmer error (the map was not validated) and throws.
 */
export function encodeLayout(section: SeatMap["sections"][number]): string {
  return section.rows
    .map((row) => {
      assertId(row.rowId);
      for (const seatId of row.seatIds) assertId(seatId);
      return `${row.rowId}=${row.seatIds.join(",")}`;
    })
    .join(";");
}

/** Order ids may be longer than other ids (128). */
const ID_CHARS = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

export function assertId(id: string, maxLength = 64): void {
  if (id.length > maxLength || !ID_CHARS.test(id)) {
    throw new Error(`invalid id ${JSON.stringify(id)} reached the seat store; validate input first`);
  }
}
