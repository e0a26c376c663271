/**
 * What callers import to talk to Boxoffice, in Node and in browsers alike
 * (nothing here needs Node: the pass verifier and the grpc-js adapter are
 * entries of their own). The generated descriptors and messages, typed
 * clients for every service over a transport the caller picks, and the
 * pieces every caller otherwise writes by hand: the reason of an error, a
 * position watch that survives server restarts, a retry policy, and
 * `holdSeats`, HoldSeats retried under one request id.
 *
 * ```ts
 * import { createGrpcTransport } from "@connectrpc/connect-node";
 * import { createBoxofficeClient, reasonOf, Reason } from "@boxoffice/client";
 * const boxoffice = createBoxofficeClient(createGrpcTransport({ baseUrl: "http://boxoffice:8080" }));
 * const { ticket } = await boxoffice.queue.join({ eventId, userId });
 * ```
 *
 * `consume` follows an event's change feed for one consumer of a group:
 * handler per change, acks on success, redelivery of failures by the server,
 * reconnection with backoff.
 */
export * from "../../gen/boxoffice/v1/queue_pb.js";
export * from "../../gen/boxoffice/v1/seats_pb.js";
export * from "../../gen/boxoffice/v1/errors_pb.js";
export * from "../../gen/boxoffice/v1/feed_pb.js";
export { consume, type ConsumeOptions, type FeedClientChoice } from "./consume.js";
export type { ReconnectBackoff } from "./backoff.js";
export { ErrorInfoSchema, BadRequestSchema, type ErrorInfo, type BadRequest } from "../../gen/google/rpc/error_details_pb.js";
export { createBoxofficeClient, services, type BoxofficeClient } from "./clients.js";
export { ERROR_DOMAIN, decodeStatusDetails, errorDetailsOf, reasonOf, type ErrorDetails } from "./errors.js";
export {
  RETRY_SAFE_METHODS,
  RETRY_SAFE_WITH_REQUEST_ID,
  retryServiceConfig,
  type GrpcServiceConfig,
  type RetryPolicyOptions,
  type RetrySafeMethod,
} from "./retry-policy.js";
export { UNKNOWN_OUTCOME_CODES, callWithRetries, type RetryOptions } from "./retry.js";
export { holdSeats, newRequestId, withRequestId } from "./hold-seats.js";
export {
  isFinal,
  watchPosition,
  type TransportChoice,
  type WatchPositionOptions,
} from "./watch-position.js";
