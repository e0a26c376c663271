import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { backendUnavailable, invalidRequest } from "../rpc/errors.js";
import type { AvailabilityHub } from "../seats/availability-loop.js";
import type { SeatStore } from "../seats/seat-store.js";
import { validateSeatMap } from "../seats/seat-map.js";
import { verifyPass, type PassKeyring } from "../pass/pass.js";
import { RandomTokens } from "../util/random-token.js";
import type { HoldResult, HoldView } from "../seats/types.js";
import { availabilityMessage, holdMessage, seatMapMessage, seatMapOf, seatStateMessage, selectionOf } from "./seat-convert.js";
import { holdRefusal, seatErrors } from "./seat-errors.js";

export interface SeatServiceDeps {
  readonly store: SeatStore;
  readonly hub: AvailabilityHub;
  /** Verifies admission passes offline. */
  readonly passes: PassKeyring;
}

const holdIds = new RandomTokens();

/** A fresh hold id: 128 random bits, unguessable, so it can serve as the fencing token. */
function newHoldId(): string {
  return `h${holdIds.next()}`;
}

/**
 * SeatService over the seat inventory's Redis core. Requests arrive validated
 * by the call policy (field rules); this layer adds the whole-map checks,
 * then makes one store call per RPC and maps each result kind to a response
 * or to an entry of `seatErrors`.
 */
export function createSeatService({ store, hub, passes }: SeatServiceDeps): ServiceImpl<typeof SeatService> {
  const ownHold = (hold: HoldView, userId: string): HoldView => {
    if (hold.userId !== userId) {
      throw seatErrors.not_hold_owner({ eventId: hold.eventId, holdId: hold.holdId });
    }
    return hold;
  };

  return {
    async loadSeatMap(req) {
      const map = seatMapOf(req);
      const problems = validateSeatMap(map);
      if (problems.length > 0) {
        throw invalidRequest(problems);
      }
      const result = await store.loadSeatMap(req.eventId, map);
      switch (result.kind) {
        case "loaded":
          return { seatMap: seatMapMessage(result.seatMap), replaced: result.replaced };
        case "seat_map_in_use":
          throw seatErrors.seat_map_in_use(req);
        case "duplicate_id":
          throw invalidRequest([{ field: "sections", description: `id "${result.id}" appears twice` }]);
      }
    },

    async holdSeats(req) {
      const selection = selectionOf(req);
      // Verified offline first; the hold script decides whether the map needs
      // it and checks the admission session is still active.
      const pass = req.pass === "" ? undefined : verifyPass(req.pass, passes, { eventId: req.eventId, userId: req.userId });
      const options = { passVerified: pass?.kind === "valid", requestId: req.requestId };
      let result: HoldResult = await store.hold(req.eventId, req.userId, newHoldId(), selection, options);
      if (result.kind === "hold_id_taken") {
        result = await store.hold(req.eventId, req.userId, newHoldId(), selection, options);
      }
      const ids = { eventId: req.eventId };
      switch (result.kind) {
        case "held":
        case "already_held":
          return { hold: holdMessage(result.hold) };
        case "event_not_found":
          throw seatErrors.event_not_found(ids);
        case "unknown_seat":
          throw seatErrors.unknown_seat(ids, result.seatIds);
        case "unknown_section":
          throw seatErrors.unknown_section(ids, selection.kind === "best_available" ? selection.section : "");
        case "unknown_tier":
          throw seatErrors.unknown_tier(ids, selection.kind === "general_admission" ? selection.tier : "");
        case "seat_unavailable":
          throw seatErrors.seat_unavailable(ids, result.seatIds);
        case "sold_out":
          throw seatErrors.sold_out(ids, result.available);
        case "seat_limit_reached":
          throw seatErrors.seat_limit_reached(ids, result.remaining);
        case "pass_required":
          throw pass?.kind === "expired"
            ? seatErrors.pass_expired(ids)
            : pass?.kind === "wrong_event"
              ? seatErrors.pass_wrong_event(ids)
              : seatErrors.pass_required(ids);
        case "session_not_active":
          throw seatErrors.session_ended(ids);
        case "request_id_reused":
          throw seatErrors.request_id_reused(ids, req.requestId);
        case "hold_id_taken":
          throw new ConnectError("two random hold ids collided", Code.Internal);
      }
    },

    async extendHold(req) {
      const result = await store.extend(req.eventId, req.holdId, req.userId, req.ttlSeconds);
      if (result.kind === "extended") {
        return { hold: holdMessage(result.hold) };
      }
      throw holdRefusal(result.kind, req);
    },

    async releaseHold(req) {
      const result = await store.release(req.eventId, req.holdId, req.userId);
      if (result.kind === "released" || result.kind === "already_released") {
        return { hold: holdMessage(result.hold) };
      }
      throw holdRefusal(result.kind, req);
    },

    async confirmHold(req) {
      const result = await store.confirm(req.eventId, req.holdId, req.userId, req.orderId);
      if (result.kind === "confirmed" || result.kind === "already_confirmed") {
        return { hold: holdMessage(result.hold) };
      }
      if (result.kind === "not_replicated") {
        throw seatErrors.not_replicated(req, result.acked, result.required);
      }
      throw holdRefusal(result.kind, req);
    },

    async getHold(req) {
      const result = await store.getHold(req.eventId, req.holdId);
      if (result.kind === "hold") {
        return { hold: holdMessage(ownHold(result.hold, req.userId)) };
      }
      throw holdRefusal(result.kind, req);
    },

    async getAvailability(req) {
      const section = req.sectionId === "" ? undefined : req.sectionId;
      const result = await store.availability(req.eventId, section);
      switch (result.kind) {
        case "availability":
          return { availability: availabilityMessage(result.availability) };
        case "event_not_found":
          throw seatErrors.event_not_found(req);
        case "unknown_section":
          throw seatErrors.unknown_section(req, req.sectionId);
      }
    },

    async *watchAvailability(req, ctx) {
      const section = req.sectionId === "" ? undefined : req.sectionId;
      for await (const item of hub.watch(req.eventId, section, ctx.signal)) {
        switch (item.kind) {
          case "update":
            yield { availability: availabilityMessage(item.availability), changes: item.changes.map(seatStateMessage) };
            break;
          case "event_not_found":
            throw seatErrors.event_not_found(req);
          case "unknown_section":
            throw seatErrors.unknown_section(req, req.sectionId);
          case "unavailable":
            throw backendUnavailable();
        }
      }
    },
  };
}
