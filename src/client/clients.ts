import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { ChangeFeedService } from "../../gen/boxoffice/v1/feed_pb.js";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";

/** Every Boxoffice service, by the name `createBoxofficeClient` gives its client. */
export const services = { queue: QueueService, seats: SeatService, feed: ChangeFeedService } as const;

/** A typed connect-es client for each Boxoffice service, all over one transport. */
export type BoxofficeClient = { readonly [K in keyof typeof services]: Client<(typeof services)[K]> };

/**
 * Typed clients for every service over the transport the caller picks, so
 * the transport (and with it the protocol, the runtime and the interceptors
 * that add credentials) stays the caller's choice:
 *
 * - Node, the gRPC port: `createGrpcTransport({ baseUrl: "http://boxoffice:8080" })`
 *   from `@connectrpc/connect-node`;
 * - Node over HTTP/1.1, or browsers, the Connect port:
 *   `createConnectTransport({ baseUrl: "https://boxoffice.example:8081" })`
 *   from `@connectrpc/connect-node` or `@connectrpc/connect-web`
 *   (`createGrpcWebTransport` works there too).
 *
 * Clients are cheap; the transport holds the connections, so share it.
 * `feed` is the change feed's contract; until a deployment serves it, its
 * calls fail with UNIMPLEMENTED.
 */
export function createBoxofficeClient(transport: Transport): BoxofficeClient {
  return {
    queue: createClient(QueueService, transport),
    seats: createClient(SeatService, transport),
    feed: createClient(ChangeFeedService, transport),
  };
}
