import { Code, type ConnectError } from "@connectrpc/connect";
import { Reason } from "../../gen/boxoffice/v1/errors_pb.js";
import { reasonError } from "../rpc/errors.js";

/**
 * Every expected queue failure, mapped once to its code and reason. The
 * service `switch`es over store results and calls these for the failure kinds.
 */
export const queueErrors = {
  event_not_found: (eventId: string): ConnectError =>
    reasonError(Code.NotFound, Reason.EVENT_NOT_FOUND, `event ${eventId} has no queue`, { event_id: eventId }),
  not_in_queue: (eventId: string, userId: string): ConnectError =>
    reasonError(Code.NotFound, Reason.NOT_IN_QUEUE, `user ${userId} is not in the queue of event ${eventId}`, {
      event_id: eventId,
      user_id: userId,
    }),
  queue_closed: (eventId: string): ConnectError =>
    reasonError(Code.FailedPrecondition, Reason.QUEUE_CLOSED, `the queue of event ${eventId} is closed`, {
      event_id: eventId,
    }),
} as const;
