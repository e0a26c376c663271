import type { StoredHoldState, StoredSeatStatus } from "../redis/outcomes.js";

export type HoldStateCode = (typeof StoredHoldState)[keyof typeof StoredHoldState];
export type SeatStatusCode = (typeof StoredSeatStatus)[keyof typeof StoredSeatStatus];

/** One row of a section: seats in physical order, neighbours in the list are adjacent. */
export interface SeatMapRow {
  readonly rowId: string;
  readonly seatIds: readonly string[];
}

/** A section's rows, front to back (best-available prefers earlier rows). */
export interface SeatMapSection {
  readonly sectionId: string;
  readonly rows: readonly SeatMapRow[];
}

export interface SeatMapTier {
  readonly tierId: string;
  readonly capacity: number;
}

/** An event's inventory as an admin loads it. Check it with `validateSeatMap` first. */
export interface SeatMap {
  readonly sections: readonly SeatMapSection[];
  readonly tiers: readonly SeatMapTier[];
  /** Default lifetime of a hold (default 600). */
  readonly holdTtlSeconds?: number | undefined;
  /** Longest a hold may live in all, extensions included (default 1800). */
  readonly maxHoldTtlSeconds?: number | undefined;
  /** Cap on held + sold seats per user in the event; 0 = no cap (default). */
  readonly maxSeatsPerUser?: number | undefined;
  /** Stored only; the service decides what to do with it. */
  readonly requirePass?: boolean | undefined;
}

export interface SeatMapSettings {
  readonly holdTtlSeconds: number;
  readonly maxHoldTtlSeconds: number;
  readonly maxSeatsPerUser: number;
  readonly requirePass: boolean;
}

export interface SeatMapSummary extends SeatMapSettings {
  readonly eventId: string;
  readonly sections: number;
  readonly seats: number;
  readonly tiers: number;
  /** Reserved seats plus general-admission capacity. */
  readonly capacity: number;
}

/** What a hold asks for. Seat ids, sections and tiers are ids of the loaded map. */
export type SeatSelection =
  | { readonly kind: "seats"; readonly seatIds: readonly string[] }
  | { readonly kind: "general_admission"; readonly tier: string; readonly quantity: number }
  | { readonly kind: "best_available"; readonly section: string; readonly quantity: number };

export interface HeldSeat {
  readonly seatId: string;
  readonly section: string;
  readonly row: string;
}

export interface HoldView {
  readonly eventId: string;
  readonly holdId: string;
  readonly userId: string;
  /** HELD is only reported while the hold is live: one past its expiry reads EXPIRED. */
  readonly state: HoldStateCode;
  /** Reserved seats, in layout order for best-available, in request order otherwise; empty for GA. */
  readonly seats: readonly HeldSeat[];
  /** General admission tier, undefined for reserved seats. */
  readonly tier: string | undefined;
  /** Seats or GA places in the hold. */
  readonly quantity: number;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  /** Set once CONFIRMED. */
  readonly orderId: string | undefined;
}

export interface SeatCounts {
  readonly capacity: number;
  readonly available: number;
  readonly held: number;
  readonly sold: number;
}

export interface SeatStatusView {
  readonly seatId: string;
  readonly section: string;
  readonly row: string;
  readonly status: SeatStatusCode;
}

/** A consistent snapshot of an event's inventory. */
export interface AvailabilityView {
  readonly eventId: string;
  readonly settings: SeatMapSettings;
  readonly event: SeatCounts;
  /** In load order. */
  readonly sections: ReadonlyArray<{ readonly section: string; readonly counts: SeatCounts }>;
  readonly tiers: ReadonlyArray<{ readonly tier: string; readonly counts: SeatCounts }>;
  /** The requested section's seats row by row in layout order; empty when no section was asked for. */
  readonly seats: readonly SeatStatusView[];
  /**
   * Id of the newest entry of the event's outbox when the snapshot was taken
   * ("0-0" if none): the snapshot reflects every change up to it and none
   * after, so a watcher applies the entries after it (XREAD from here).
   */
  readonly cursor: string;
}

export type NotFound = { readonly kind: "event_not_found" };
type HoldNotFound = { readonly kind: "hold_not_found" };
type NotOwner = { readonly kind: "not_hold_owner" };
type Expired = { readonly kind: "hold_expired" };
type Released = { readonly kind: "hold_released" };
/** Confirmed already (release/extend), or confirmed under another order id (confirm). */
type Confirmed = { readonly kind: "hold_confirmed" };

export type LoadResult =
  | { readonly kind: "loaded"; readonly replaced: boolean; readonly seatMap: SeatMapSummary }
  | { readonly kind: "seat_map_in_use" }
  /** A seat, section or tier id appears twice; nothing was written. `validateSeatMap` catches this first. */
  | { readonly kind: "duplicate_id"; readonly id: string };

export type HoldResult =
  | { readonly kind: "held"; readonly hold: HoldView }
  /**
   * The same user retried the same hold id, or the same request id with the
   * same selection: the hold as it stands now (any state), nothing changed.
   */
  | { readonly kind: "already_held"; readonly hold: HoldView }
  | NotFound
  | { readonly kind: "unknown_seat"; readonly seatIds: readonly string[] }
  | { readonly kind: "unknown_section" }
  | { readonly kind: "unknown_tier" }
  /** The requested seats that are held or sold. */
  | { readonly kind: "seat_unavailable"; readonly seatIds: readonly string[] }
  /** The tier or section has fewer than the quantity available. */
  | { readonly kind: "sold_out"; readonly available: number }
  /** The user may take at most `remaining` more seats in this event. */
  | { readonly kind: "seat_limit_reached"; readonly remaining: number }
  /** The hold id belongs to another user's hold (ids are random: a caller bug). */
  | { readonly kind: "hold_id_taken" }
  /** The seat map requires an admission pass and the caller verified none. */
  | { readonly kind: "pass_required" }
  /** The pass verified, but the user's admission session has ended (left, confirmed, expired). */
  | { readonly kind: "session_not_active" }
  /** The request id already made a hold of another selection: nothing changed. */
  | { readonly kind: "request_id_reused" };

export type ExtendResult =
  | { readonly kind: "extended"; readonly hold: HoldView }
  | NotFound
  | HoldNotFound
  | NotOwner
  | Expired
  | Released
  | Confirmed;

export type ReleaseResult =
  | { readonly kind: "released" | "already_released"; readonly hold: HoldView }
  | NotFound
  | HoldNotFound
  | NotOwner
  | Expired
  | Confirmed;

export type ConfirmResult =
  | { readonly kind: "confirmed" | "already_confirmed"; readonly hold: HoldView }
  /**
   * Sold on the primary, but fewer replicas than required acknowledged it in
   * time: a failover could still lose the sale. Confirming again with the same
   * order id answers `already_confirmed` once they have it.
   */
  | { readonly kind: "not_replicated"; readonly acked: number; readonly required: number }
  | NotFound
  | HoldNotFound
  | NotOwner
  | Expired
  | Released
  | Confirmed;

export type GetHoldResult = { readonly kind: "hold"; readonly hold: HoldView } | NotFound | HoldNotFound;

export type AvailabilityResult =
  | { readonly kind: "availability"; readonly availability: AvailabilityView }
  | NotFound
  | { readonly kind: "unknown_section" };

