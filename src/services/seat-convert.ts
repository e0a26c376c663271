import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type {
  AvailabilitySchema,
  HoldSchema,
  HoldSeatsRequest,
  HoldState,
  LoadSeatMapRequest,
  SeatCountsSchema,
  SeatMapSummarySchema,
  SeatStateSchema,
  SeatStatus,
} from "../../gen/boxoffice/v1/seats_pb.js";
import type { AvailabilityView, HoldView, SeatCounts, SeatMap, SeatMapSummary, SeatSelection, SeatStatusView } from "../seats/types.js";

/** Protobuf requests → domain inputs, domain views → protobuf messages. Stored codes equal the proto enum values. */

export function seatMapOf(req: LoadSeatMapRequest): SeatMap {
  return {
    sections: req.sections.map((s) => ({ sectionId: s.sectionId, rows: s.rows.map((r) => ({ rowId: r.rowId, seatIds: r.seatIds })) })),
    tiers: req.tiers.map((t) => ({ tierId: t.tierId, capacity: t.capacity })),
    holdTtlSeconds: req.holdTtlSeconds,
    maxHoldTtlSeconds: req.maxHoldTtlSeconds,
    maxSeatsPerUser: req.maxSeatsPerUser,
    requirePass: req.requirePass,
  };
}

/** The request's selection; the oneof is required by validation, so it is always set here. */
export function selectionOf(req: HoldSeatsRequest): SeatSelection {
  const selection = req.selection;
  switch (selection.case) {
    case "seats":
      return { kind: "seats", seatIds: selection.value.seatIds };
    case "generalAdmission":
      return { kind: "general_admission", tier: selection.value.tierId, quantity: selection.value.quantity };
    case "bestAvailable":
      return { kind: "best_available", section: selection.value.sectionId, quantity: selection.value.quantity };
    case undefined:
      throw new Error("selection is required (validation lets no request without one through)");
  }
}

export function seatMapMessage(summary: SeatMapSummary): MessageInitShape<typeof SeatMapSummarySchema> {
  return { ...summary };
}

export function holdMessage(hold: HoldView): MessageInitShape<typeof HoldSchema> {
  return {
    holdId: hold.holdId,
    eventId: hold.eventId,
    userId: hold.userId,
    seatIds: hold.seats.map((s) => s.seatId),
    tierId: hold.tier ?? "",
    quantity: hold.quantity,
    state: hold.state as number as HoldState,
    expiresAt: timestampFromMs(hold.expiresAtMs),
    createdAt: timestampFromMs(hold.createdAtMs),
    orderId: hold.orderId ?? "",
  };
}

function countsMessage(counts: SeatCounts): MessageInitShape<typeof SeatCountsSchema> {
  return { ...counts };
}

export function seatStateMessage(seat: SeatStatusView): MessageInitShape<typeof SeatStateSchema> {
  return { seatId: seat.seatId, sectionId: seat.section, rowId: seat.row, status: seat.status as number as SeatStatus };
}

export function availabilityMessage(view: AvailabilityView): MessageInitShape<typeof AvailabilitySchema> {
  return {
    eventId: view.eventId,
    event: countsMessage(view.event),
    sections: view.sections.map((s) => ({ sectionId: s.section, counts: countsMessage(s.counts) })),
    tiers: view.tiers.map((t) => ({ tierId: t.tier, counts: countsMessage(t.counts) })),
    seats: view.seats.map(seatStateMessage),
  };
}
