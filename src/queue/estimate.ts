import { StoredTicketState } from "../redis/outcomes.js";
import type { TicketStateCode } from "./types.js";

/** The largest wait reported, in seconds (a protobuf int32). */
export const MAX_ESTIMATED_WAIT_SECONDS = 2_147_483_647;

/**
 * Seconds until a waiting user is admitted at the measured rate:
 * `ceil(position / rate)`. Undefined when the user is not waiting in line or
 * there is no measured rate yet; an estimate is never invented.
 */
export function estimatedWaitSeconds(state: TicketStateCode, position: number, ratePerSec: number | undefined): number | undefined {
  if (state !== StoredTicketState.WAITING || position <= 0 || ratePerSec === undefined || !(ratePerSec > 0)) {
    return undefined;
  }
  return Math.min(MAX_ESTIMATED_WAIT_SECONDS, Math.ceil(position / ratePerSec));
}
