/**
 * The venue of the seat scenario and who asks for what, shared by the
 * benchmark (which loads the map and checks Redis) and `seat-client.ts`
 * (which builds the requests), so both agree on every seat id.
 *
 * 20 sections × 50 rows × 100 seats = 100,000 reserved seats, plus a
 * general-admission tier. Explicit pairs take the first half of the sections
 * and best-available the second half, so the two never compete for a seat and
 * neither scenario can run out: each has exactly as many requests as its
 * sections have pairs.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { LoadSeatMapRequestSchema } from "../gen/boxoffice/v1/seats_pb.js";

export const SECTIONS = 20;
export const ROWS = 50;
export const SEATS_PER_ROW = 100;
export const SEATS = SECTIONS * ROWS * SEATS_PER_ROW;
export const GA_TIER = "ga";
/** Seats per hold in every scenario. */
export const PAIR = 2;
/** Sections 0 … HALF-1 serve explicit pairs, HALF … SECTIONS-1 best-available. */
const HALF = SECTIONS / 2;
/** Pairs in half the venue: the most explicit or best-available holds a run can make. */
export const PAIRS_PER_HALF = (HALF * ROWS * SEATS_PER_ROW) / PAIR;

const pad = (n: number, width: number): string => String(n).padStart(width, "0");
export const sectionId = (s: number): string => `s${pad(s + 1, 2)}`;
const rowId = (r: number): string => `r${pad(r + 1, 2)}`;
export const seatId = (s: number, r: number, i: number): string => `${sectionId(s)}-${rowId(r)}-${pad(i + 1, 3)}`;

/**
 * The n-th explicit pair: consecutive requests go to different sections, and
 * within a section fill rows front to back, two adjacent seats at a time.
 */
export function explicitPair(n: number): [string, string] {
  const s = n % HALF;
  const k = Math.floor(n / HALF);
  const perRow = SEATS_PER_ROW / PAIR;
  const r = Math.floor(k / perRow);
  const i = (k % perRow) * PAIR;
  return [seatId(s, r, i), seatId(s, r, i + 1)];
}

/** The section of the n-th best-available request: round-robin over the second half. */
export function bestSection(n: number): string {
  return sectionId(HALF + (n % HALF));
}

/** The section a seat id belongs to. */
export function sectionOf(seat: string): string {
  return seat.slice(0, seat.indexOf("-"));
}

/** The LoadSeatMap request for the venue, encoded (about 1.5 MB). Holds outlive any run. */
export function seatMapRequest(eventId: string, gaCapacity: number): Uint8Array {
  const sections = Array.from({ length: SECTIONS }, (_, s) => ({
    sectionId: sectionId(s),
    rows: Array.from({ length: ROWS }, (_, r) => ({
      rowId: rowId(r),
      seatIds: Array.from({ length: SEATS_PER_ROW }, (_, i) => seatId(s, r, i)),
    })),
  }));
  return toBinary(
    LoadSeatMapRequestSchema,
    create(LoadSeatMapRequestSchema, {
      eventId,
      sections,
      tiers: [{ tierId: GA_TIER, capacity: gaCapacity }],
      holdTtlSeconds: 3600,
      maxHoldTtlSeconds: 3600,
    }),
  );
}
