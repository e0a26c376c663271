import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { ChangeFeedService } from "../../gen/boxoffice/v1/feed_pb.js";

/** A method a client may call again with the same request after UNAVAILABLE. */
export interface RetrySafeMethod {
  /** Fully qualified, e.g. "boxoffice.v1.QueueService". */
  readonly service: string;
  /** As in the proto, e.g. "Join". */
  readonly method: string;
}

/**
 * The methods whose retry converges on the first call's effect: reads, and
 * writes idempotent by nature or by their natural key (Join and Leave per
 * user, ReleaseHold and ExtendHold per hold id, ConfirmHold per order id, Ack
 * per entry id). A call that failed with UNAVAILABLE may have taken effect;
 * repeating one of these is still right. Streams are retried only until their
 * first message (gRPC's rule), which for the watch streams is a read.
 *
 * Not here: HoldSeats, safe only when its request carries a `request_id` a
 * channel's config cannot check (`RETRY_SAFE_WITH_REQUEST_ID`); the admin
 * writes (ConfigureQueue, LoadSeatMap, ReplayDeadLetters: safe to repeat, but
 * an operator's to repeat); Subscribe (the `consume` helper reconnects it).
 */
export const RETRY_SAFE_METHODS: readonly RetrySafeMethod[] = Object.freeze([
  ...safe(QueueService, ["join", "leave", "getPosition", "watchPosition", "getQueueStats"]),
  ...safe(SeatService, ["extendHold", "releaseHold", "confirmHold", "getHold", "getAvailability", "watchAvailability"]),
  ...safe(ChangeFeedService, ["ack"]),
]);

/**
 * Methods safe to retry only when every request carries its idempotency key:
 * HoldSeats with a `request_id` (without one, a repeat may hold a second set
 * of seats). `createGrpcJsClient` fills one into every HoldSeats it sends, so
 * its channel retries these too; `holdSeats` does the same over connect-es.
 */
export const RETRY_SAFE_WITH_REQUEST_ID: readonly RetrySafeMethod[] = Object.freeze([...safe(SeatService, ["holdSeats"])]);

/** Names checked against the descriptors at compile time, so a renamed RPC cannot silently drop out. */
function safe<S extends DescService>(service: S, methods: ReadonlyArray<keyof S["method"] & string>): RetrySafeMethod[] {
  return methods.map((name) => Object.freeze({ service: service.typeName, method: (service.method[name] as DescMethod).name }));
}

export interface RetryPolicyOptions {
  /** Attempts in all, the first included (gRPC caps this at 5). Default 4. */
  readonly maxAttempts?: number;
  /** Default 0.1 s; each retry waits a random time up to the current backoff. */
  readonly initialBackoffSeconds?: number;
  /** Default 2 s. */
  readonly maxBackoffSeconds?: number;
  /**
   * True only for a channel whose every HoldSeats request carries a
   * `request_id` (as `createGrpcJsClient`'s do): HoldSeats is retried too.
   */
  readonly requestIdsFilled?: boolean;
}

/**
 * A gRPC service config that retries `RETRY_SAFE_METHODS` on UNAVAILABLE with
 * exponential backoff. Give it to the channel as JSON:
 *
 * - `@grpc/grpc-js`: `new Client(address, credentials, { "grpc.service_config": JSON.stringify(retryServiceConfig()) })`
 *   (the `grpc-js` entry's `createGrpcJsClient` does this by default);
 * - Python: `grpc.insecure_channel(target, options=[("grpc.service_config", json.dumps(config))])`;
 * - Go: `grpc.WithDefaultServiceConfig(json)`.
 *
 * Only UNAVAILABLE is retried: DEADLINE_EXCEEDED is the caller's own budget,
 * and every other code is an answer.
 */
export function retryServiceConfig(options: RetryPolicyOptions = {}): GrpcServiceConfig {
  return {
    methodConfig: [
      {
        name: [...RETRY_SAFE_METHODS, ...(options.requestIdsFilled === true ? RETRY_SAFE_WITH_REQUEST_ID : [])].map(({ service, method }) => ({
          service,
          method,
        })),
        retryPolicy: {
          maxAttempts: options.maxAttempts ?? 4,
          initialBackoff: `${options.initialBackoffSeconds ?? 0.1}s`,
          maxBackoff: `${options.maxBackoffSeconds ?? 2}s`,
          backoffMultiplier: 2,
          retryableStatusCodes: ["UNAVAILABLE"],
        },
      },
    ],
  };
}

/** The part of gRPC's service config (`grpc/service_config.proto`, JSON form) used here. */
export interface GrpcServiceConfig {
  readonly methodConfig: ReadonlyArray<{
    readonly name: ReadonlyArray<{ readonly service: string; readonly method: string }>;
    readonly retryPolicy: {
      readonly maxAttempts: number;
      readonly initialBackoff: string;
      readonly maxBackoff: string;
      readonly backoffMultiplier: number;
      readonly retryableStatusCodes: readonly string[];
    };
  }>;
}
