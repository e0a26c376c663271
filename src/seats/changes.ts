import { StoredSeatStatus } from "../redis/outcomes.js";
import type { HeldSeat, SeatStatusCode } from "./types.js";

/**
 * The seat entries of the event's outbox, as the seat scripts write them
 * (see the header of `lua/seat-lib.lua`). What WatchAvailability and other
 * consumers read to follow the inventory without asking Redis again.
 */
export type SeatChangeType = "seat.held" | "seat.released" | "seat.confirmed" | "seat.expired";

export interface SeatChange {
  readonly type: SeatChangeType;
  readonly holdId: string;
  readonly userId: string;
  /** Reserved seats of the hold; empty for general admission. */
  readonly seats: readonly HeldSeat[];
  /** General-admission tier; undefined for reserved seats. */
  readonly tier: string | undefined;
  /** Seats or places in the hold. */
  readonly quantity: number;
  /** The seats' (or places') status after the change. */
  readonly status: SeatStatusCode;
  /** On `seat.held`. */
  readonly expiresAtMs: number | undefined;
  /** On `seat.confirmed`. */
  readonly orderId: string | undefined;
}

const STATUS_AFTER: Readonly<Record<SeatChangeType, SeatStatusCode>> = {
  "seat.held": StoredSeatStatus.HELD,
  "seat.released": StoredSeatStatus.AVAILABLE,
  "seat.confirmed": StoredSeatStatus.SOLD,
  "seat.expired": StoredSeatStatus.AVAILABLE,
};

function isSeatChangeType(type: string | undefined): type is SeatChangeType {
  return type !== undefined && Object.hasOwn(STATUS_AFTER, type);
}

/**
 * Reads one outbox entry's flat `[field, value, …]` list (as XRANGE/XREAD
 * return it). Undefined for entries of other features (`queue.*`), for those
 * that change no seat's status (`seat.extended` only moves an expiry;
 * `seat.map_loaded` comes before any hold) and for malformed ones, which a
 * consumer skips.
 */
export function parseSeatChange(flat: readonly string[]): SeatChange | undefined {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    fields.set(flat[i] as string, flat[i + 1] as string);
  }
  const type = fields.get("type");
  const holdId = fields.get("hold");
  const userId = fields.get("user");
  const quantity = Number(fields.get("quantity"));
  if (!isSeatChangeType(type) || holdId === undefined || userId === undefined || !Number.isSafeInteger(quantity)) {
    return undefined;
  }
  const seats: HeldSeat[] = [];
  for (const item of (fields.get("seats") ?? "").split(",")) {
    const [section, row, seatId] = item.split("|");
    if (section !== undefined && row !== undefined && seatId !== undefined) {
      seats.push({ seatId, section, row });
    }
  }
  const tier = fields.get("tier");
  const expires = fields.get("expires");
  return {
    type,
    holdId,
    userId,
    seats,
    tier: tier === undefined || tier === "" ? undefined : tier,
    quantity,
    status: STATUS_AFTER[type],
    expiresAtMs: expires === undefined ? undefined : Number(expires),
    orderId: fields.get("order"),
  };
}
