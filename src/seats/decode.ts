import { Outcome, StoredHoldState } from "../redis/outcomes.js";
import { Reply } from "../redis/reply.js";
import type {
  ConfirmResult,
  ExtendResult,
  GetHoldResult,
  HeldSeat,
  HoldResult,
  HoldStateCode,
  HoldView,
  ReleaseResult,
} from "./types.js";

/**
 * One decoder per script: the `unknown` reply becomes a discriminated union.
 * Hold scripts reply `{ code, hold, seat_ids, n }`; the availability and
 * load decoders live in `decode-inventory.ts`.
 */

const HOLD_STATES = new Set<number>(Object.values(StoredHoldState));

function holdReply(script: string, raw: unknown): { reply: Reply; code: number } {
  const reply = new Reply(script, raw, 4);
  return { reply, code: reply.int(0) };
}

/** Reads the hold at item 1: `{ id, user, state, created, expires, order, tier, quantity, {seat, section, row…} }`. */
function hold(script: string, reply: Reply, eventId: string): HoldView {
  const h = new Reply(script, reply.array(1), 9);
  const state = h.int(2);
  if (!HOLD_STATES.has(state)) {
    return h.fail(`bad hold state ${state}`);
  }
  const order = h.str(5);
  const tier = h.str(6);
  return {
    eventId,
    holdId: h.str(0),
    userId: h.str(1),
    state: state as HoldStateCode,
    seats: heldSeats(h, h.array(8)),
    tier: tier === "" ? undefined : tier,
    quantity: h.int(7),
    createdAtMs: h.int(3),
    expiresAtMs: h.int(4),
    orderId: order === "" ? undefined : order,
  };
}

function heldSeats(h: Reply, flat: readonly unknown[]): HeldSeat[] {
  if (flat.length % 3 !== 0) {
    return h.fail("ragged seat list");
  }
  const seats: HeldSeat[] = [];
  for (let i = 0; i < flat.length; i += 3) {
    const [seatId, section, row] = flat.slice(i, i + 3);
    if (typeof seatId !== "string" || typeof section !== "string" || typeof row !== "string") {
      return h.fail(`bad seat at ${i}`);
    }
    seats.push({ seatId, section, row });
  }
  return seats;
}

export function stringList(reply: Reply, index: number): string[] {
  const items = reply.array(index);
  return items.map((item, i) => (typeof item === "string" ? item : reply.fail(`item ${index}.${i} is not a string`)));
}

export function decodeHold(raw: unknown, eventId: string): HoldResult {
  const { reply, code } = holdReply("holdSeats", raw);
  switch (code) {
    case Outcome.HELD:
      return { kind: "held", hold: hold("holdSeats", reply, eventId) };
    case Outcome.ALREADY_HELD:
      return { kind: "already_held", hold: hold("holdSeats", reply, eventId) };
    case Outcome.EVENT_NOT_FOUND:
      return { kind: "event_not_found" };
    case Outcome.UNKNOWN_SEAT:
      return { kind: "unknown_seat", seatIds: stringList(reply, 2) };
    case Outcome.UNKNOWN_SECTION:
      return { kind: "unknown_section" };
    case Outcome.UNKNOWN_TIER:
      return { kind: "unknown_tier" };
    case Outcome.SEAT_UNAVAILABLE:
      return { kind: "seat_unavailable", seatIds: stringList(reply, 2) };
    case Outcome.SOLD_OUT:
      return { kind: "sold_out", available: reply.int(3) };
    case Outcome.SEAT_LIMIT_REACHED:
      return { kind: "seat_limit_reached", remaining: reply.int(3) };
    case Outcome.HOLD_ID_TAKEN:
      return { kind: "hold_id_taken" };
    case Outcome.PASS_REQUIRED:
      return { kind: "pass_required" };
    case Outcome.SESSION_NOT_ACTIVE:
      return { kind: "session_not_active" };
    case Outcome.REQUEST_ID_REUSED:
      return { kind: "request_id_reused" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

/** Refusals every owner-checked hold script shares, or undefined for another code. */
function refusal(code: number) {
  switch (code) {
    case Outcome.EVENT_NOT_FOUND:
      return { kind: "event_not_found" } as const;
    case Outcome.HOLD_NOT_FOUND:
      return { kind: "hold_not_found" } as const;
    case Outcome.NOT_HOLD_OWNER:
      return { kind: "not_hold_owner" } as const;
    case Outcome.HOLD_EXPIRED:
      return { kind: "hold_expired" } as const;
    case Outcome.HOLD_CONFIRMED:
      return { kind: "hold_confirmed" } as const;
    default:
      return undefined;
  }
}

export function decodeExtend(raw: unknown, eventId: string): ExtendResult {
  const { reply, code } = holdReply("extendHold", raw);
  if (code === Outcome.EXTENDED) {
    return { kind: "extended", hold: hold("extendHold", reply, eventId) };
  }
  if (code === Outcome.HOLD_RELEASED) {
    return { kind: "hold_released" };
  }
  return refusal(code) ?? reply.fail(`outcome ${code}`);
}

export function decodeRelease(raw: unknown, eventId: string): ReleaseResult {
  const { reply, code } = holdReply("releaseHold", raw);
  if (code === Outcome.RELEASED) {
    return { kind: "released", hold: hold("releaseHold", reply, eventId) };
  }
  if (code === Outcome.ALREADY_RELEASED) {
    return { kind: "already_released", hold: hold("releaseHold", reply, eventId) };
  }
  return refusal(code) ?? reply.fail(`outcome ${code}`);
}

export function decodeConfirm(raw: unknown, eventId: string): ConfirmResult {
  const { reply, code } = holdReply("confirmHold", raw);
  if (code === Outcome.CONFIRMED) {
    return { kind: "confirmed", hold: hold("confirmHold", reply, eventId) };
  }
  if (code === Outcome.ALREADY_CONFIRMED) {
    return { kind: "already_confirmed", hold: hold("confirmHold", reply, eventId) };
  }
  if (code === Outcome.HOLD_RELEASED) {
    return { kind: "hold_released" };
  }
  return refusal(code) ?? reply.fail(`outcome ${code}`);
}

export function decodeGetHold(raw: unknown, eventId: string): GetHoldResult {
  const { reply, code } = holdReply("getHold", raw);
  switch (code) {
    case Outcome.OK:
      return { kind: "hold", hold: hold("getHold", reply, eventId) };
    case Outcome.EVENT_NOT_FOUND:
      return { kind: "event_not_found" };
    case Outcome.HOLD_NOT_FOUND:
      return { kind: "hold_not_found" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}
