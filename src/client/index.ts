/**
 * What backend services import to talk to Boxoffice: the service
 * descriptors and messages generated from the contract, and the admission
 * pass verifier (no Redis, no network: verify a pass offline with the shared
 * key). Create clients with connect-es:
 *
 * ```ts
 * import { createClient } from "@connectrpc/connect";
 * import { createGrpcTransport } from "@connectrpc/connect-node";
 * import { QueueService } from "boxoffice/client";
 * const queue = createClient(QueueService, createGrpcTransport({ baseUrl: "http://boxoffice:8080" }));
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
export { consume, type ConsumeOptions, type ReconnectBackoff } from "./consume.js";
export { ErrorInfoSchema, BadRequestSchema, type ErrorInfo, type BadRequest } from "../../gen/google/rpc/error_details_pb.js";
export {
  verifyPass,
  parsePassKeys,
  PassKeyring,
  type PassClaims,
  type PassVerification,
  type VerifyPassOptions,
} from "../pass/pass.js";
