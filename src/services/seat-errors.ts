import { Code, type ConnectError } from "@connectrpc/connect";
import { Reason } from "../../gen/boxoffice/v1/errors_pb.js";
import { reasonError } from "../rpc/errors.js";

type Ids = { readonly eventId: string; readonly holdId?: string };

/**
 * Every expected seat failure, mapped once to its code and reason. Lists of
 * seats travel in ErrorInfo metadata as comma-separated ids.
 */
export const seatErrors = {
  event_not_found: ({ eventId }: Ids): ConnectError =>
    reasonError(Code.NotFound, Reason.SEAT_MAP_NOT_FOUND, `event ${eventId} has no seat map`, { event_id: eventId }),
  seat_map_in_use: ({ eventId }: Ids): ConnectError =>
    reasonError(Code.FailedPrecondition, Reason.SEAT_MAP_IN_USE, `the seat map of event ${eventId} has held or sold seats and cannot be replaced`, {
      event_id: eventId,
    }),
  unknown_seat: ({ eventId }: Ids, seatIds: readonly string[]): ConnectError =>
    reasonError(Code.InvalidArgument, Reason.UNKNOWN_SEAT, `event ${eventId} has no seat ${seatIds.join(", ")}`, {
      event_id: eventId,
      seat_ids: seatIds.join(","),
    }),
  unknown_section: ({ eventId }: Ids, section: string): ConnectError =>
    reasonError(Code.InvalidArgument, Reason.UNKNOWN_SECTION, `event ${eventId} has no section ${section}`, {
      event_id: eventId,
      section_id: section,
    }),
  unknown_tier: ({ eventId }: Ids, tier: string): ConnectError =>
    reasonError(Code.InvalidArgument, Reason.UNKNOWN_TIER, `event ${eventId} has no tier ${tier}`, { event_id: eventId, tier_id: tier }),
  seat_unavailable: ({ eventId }: Ids, seatIds: readonly string[]): ConnectError =>
    reasonError(Code.FailedPrecondition, Reason.SEAT_UNAVAILABLE, `seats ${seatIds.join(", ")} are held or sold`, {
      event_id: eventId,
      seat_ids: seatIds.join(","),
    }),
  sold_out: ({ eventId }: Ids, available: number): ConnectError =>
    reasonError(Code.FailedPrecondition, Reason.SOLD_OUT, `not enough seats left (${available} available)`, {
      event_id: eventId,
      available: String(available),
    }),
  seat_limit_reached: ({ eventId }: Ids, remaining: number): ConnectError =>
    reasonError(Code.ResourceExhausted, Reason.SEAT_LIMIT_REACHED, `the user may take ${remaining} more seats in this event`, {
      event_id: eventId,
      remaining: String(remaining),
    }),
  pass_required: ({ eventId }: Ids): ConnectError =>
    reasonError(Code.PermissionDenied, Reason.PASS_INVALID, `holding seats of event ${eventId} requires a valid admission pass`, {
      event_id: eventId,
    }),
  pass_expired: ({ eventId }: Ids): ConnectError =>
    reasonError(Code.PermissionDenied, Reason.PASS_EXPIRED, "the admission pass has expired", { event_id: eventId }),
  pass_wrong_event: ({ eventId }: Ids): ConnectError =>
    reasonError(Code.PermissionDenied, Reason.PASS_WRONG_EVENT, `the admission pass is not for event ${eventId}`, { event_id: eventId }),
  session_ended: ({ eventId }: Ids): ConnectError =>
    reasonError(Code.PermissionDenied, Reason.SESSION_ENDED, `the user's admission session for event ${eventId} has ended`, {
      event_id: eventId,
    }),
  request_id_reused: ({ eventId }: Ids, requestId: string): ConnectError =>
    reasonError(
      Code.FailedPrecondition,
      Reason.IDEMPOTENCY_KEY_REUSED,
      `request id ${requestId} already made a hold of another selection; a new hold needs a new request id`,
      { event_id: eventId, request_id: requestId },
    ),
  hold_not_found: ({ eventId, holdId = "" }: Ids): ConnectError =>
    reasonError(Code.NotFound, Reason.HOLD_NOT_FOUND, `event ${eventId} has no hold ${holdId}`, { event_id: eventId, hold_id: holdId }),
  not_hold_owner: ({ eventId, holdId = "" }: Ids): ConnectError =>
    reasonError(Code.PermissionDenied, Reason.NOT_HOLD_OWNER, `hold ${holdId} belongs to another user`, { event_id: eventId, hold_id: holdId }),
  hold_expired: ({ eventId, holdId = "" }: Ids): ConnectError =>
    reasonError(Code.FailedPrecondition, Reason.HOLD_EXPIRED, `hold ${holdId} expired and its seats went back on sale`, {
      event_id: eventId,
      hold_id: holdId,
    }),
  hold_released: ({ eventId, holdId = "" }: Ids): ConnectError =>
    reasonError(Code.FailedPrecondition, Reason.HOLD_RELEASED, `hold ${holdId} was released`, { event_id: eventId, hold_id: holdId }),
  hold_confirmed: ({ eventId, holdId = "" }: Ids): ConnectError =>
    reasonError(Code.FailedPrecondition, Reason.HOLD_CONFIRMED, `hold ${holdId} is already confirmed`, { event_id: eventId, hold_id: holdId }),
  not_replicated: ({ eventId, holdId = "" }: Ids, acked: number, required: number): ConnectError =>
    reasonError(
      Code.Unavailable,
      Reason.NOT_REPLICATED,
      `the sale of hold ${holdId} reached ${acked} of ${required} replicas in time: confirm again with the same order_id`,
      { event_id: eventId, hold_id: holdId, acked: String(acked), required: String(required) },
    ),
} as const;

/** The refusals every owner-checked hold operation shares. */
export type HoldRefusal = "event_not_found" | "hold_not_found" | "not_hold_owner" | "hold_expired" | "hold_released" | "hold_confirmed";

export function holdRefusal(kind: HoldRefusal, ids: Ids): ConnectError {
  return seatErrors[kind](ids);
}
