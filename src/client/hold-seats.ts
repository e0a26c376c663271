import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { SeatService, type HoldSeatsRequestSchema, type HoldSeatsResponse } from "../../gen/boxoffice/v1/seats_pb.js";
import { callWithRetries, type RetryOptions } from "./retry.js";

type HoldSeatsRequest = MessageInitShape<typeof HoldSeatsRequestSchema>;

/**
 * A fresh HoldSeats request id: 128 random bits from the platform's CSPRNG
 * (Web Crypto, in Node and browsers alike), as 32 hex digits after an "r".
 */
export function newRequestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `r${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The request with a request id: its own when it has one, else a fresh one. */
export function withRequestId<R extends HoldSeatsRequest>(request: R): R & { requestId: string } {
  const requestId = request.requestId ?? "";
  return (requestId === "" ? { ...request, requestId: newRequestId() } : request) as R & { requestId: string };
}

/**
 * HoldSeats, retried on UNAVAILABLE and DEADLINE_EXCEEDED. Every attempt
 * carries the same request id (the caller's, or a fresh one filled in here),
 * so an attempt whose outcome was unknown and that did hold seats is answered
 * by the retry with that hold, never with a second one. A caller retrying on
 * its own, later, passes the request id it gave (or reads it from
 * `withRequestId`) to converge the same way.
 *
 * The hold that comes back is as it stands: check `hold.state` (a retry long
 * after the first call may find it EXPIRED). FAILED_PRECONDITION with reason
 * IDEMPOTENCY_KEY_REUSED means the request id made a hold of another
 * selection.
 *
 * ```ts
 * const { hold } = await holdSeats(boxoffice.seats, { eventId, userId, pass, selection }, { attemptTimeoutMs: 2_000 });
 * ```
 */
export function holdSeats(seats: Client<typeof SeatService>, request: HoldSeatsRequest, options: RetryOptions = {}): Promise<HoldSeatsResponse> {
  const keyed = withRequestId(request);
  return callWithRetries((callOptions) => seats.holdSeats(keyed, callOptions), options);
}
