import { Code, type ConnectError } from "@connectrpc/connect";
import { Reason } from "../../gen/boxoffice/v1/errors_pb.js";
import { invalidRequest, reasonError } from "../rpc/errors.js";
import { isStreamId } from "./stream-id.js";

/** Every expected change feed failure, mapped once to its code and reason. */
export const feedErrors = {
  group_not_found: (eventId: string, group: string): ConnectError =>
    reasonError(Code.NotFound, Reason.GROUP_NOT_FOUND, `event ${eventId} has no consumer group ${group}`, {
      event_id: eventId,
      group,
    }),
} as const;

const NOT_AN_ID = "must be a stream id whose parts fit 64 bits";

/** INVALID_ARGUMENT naming `field[i]` unless every id is a stream id Redis accepts. */
export function checkStreamIds(field: string, ids: readonly string[]): void {
  const bad = ids.findIndex((id) => !isStreamId(id));
  if (bad >= 0) {
    throw invalidRequest([{ field: `${field}[${bad}]`, description: NOT_AN_ID }]);
  }
}

/** INVALID_ARGUMENT naming `field` unless `id` is a stream id Redis accepts. */
export function checkStreamId(field: string, id: string): void {
  if (!isStreamId(id)) {
    throw invalidRequest([{ field, description: NOT_AN_ID }]);
  }
}
