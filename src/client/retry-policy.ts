import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";

/** A method a client may call again with the same request after UNAVAILABLE. */
export interface RetrySafeMethod {
  /** Fully qualified, e.g. "boxoffice.v1.QueueService". */
  readonly service: string;
  /** As in the proto, e.g. "Join". */
  readonly method: string;
}

/**
 * The methods whose retry converges on the first call's effect: reads, and
 * writes idempotent by their natural key (Join and Leave per user, ConfirmHold
 * per order id). A call that failed with UNAVAILABLE may have taken effect;
 * repeating one of these is still right. Streams are retried only until their
 * first message (gRPC's rule), which for the watch streams is a read.
 *
 * Not here: HoldSeats (a repeat could hold a second set of seats until holds
 * carry a client request id), ExtendHold and ReleaseHold (a repeat reports an
 * error for what already succeeded), the admin loads, and the change feed.
 */
export const RETRY_SAFE_METHODS: readonly RetrySafeMethod[] = Object.freeze([
  ...safe(QueueService, ["join", "leave", "getPosition", "watchPosition", "getQueueStats"]),
  ...safe(SeatService, ["confirmHold", "getHold", "getAvailability", "watchAvailability"]),
]);

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
        name: RETRY_SAFE_METHODS.map(({ service, method }) => ({ service, method })),
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
