import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { file_boxoffice_v1_errors } from "../gen/boxoffice/v1/errors_pb.js";
import { QueueService } from "../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../gen/boxoffice/v1/seats_pb.js";
import { file_google_rpc_error_details } from "../gen/google/rpc/error_details_pb.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import type { Config } from "./config.js";
import { createHealthService } from "./health/health-service.js";
import { HealthStatus, ServingStatus } from "./health/health-status.js";
import { Admitter } from "./queue/admitter.js";
import { QueueStore } from "./queue/queue-store.js";
import { EventSweeper } from "./redis/event-sweeper.js";
import { WatchHub } from "./queue/watch-hub.js";
import { createReflectionServices, reflectionServiceDescriptors } from "./reflection/reflection-services.js";
import { withCallPolicy } from "./rpc/policy.js";
import { registration } from "./rpc/registration.js";
import { createRequestValidator } from "./rpc/validator.js";
import { AvailabilityHub } from "./seats/availability-hub.js";
import { SeatStore } from "./seats/seat-store.js";
import { createQueueService } from "./services/queue-service.js";
import { createSeatService } from "./services/seat-service.js";
import { createConnectServer } from "./transport/connect-server.js";
import { createGrpcServer } from "./transport/grpc-server.js";
import type { TransportServer } from "./transport/transport-server.js";

export interface AppDeps {
  readonly config: Config;
  readonly redis: Redis;
  readonly logger: Logger;
  /** Test hook: milliseconds added to Redis TIME by every script. */
  readonly clockSkewMs?: () => number;
}

export interface App {
  readonly config: Config;
  readonly store: QueueStore;
  readonly hub: WatchHub;
  readonly sweeper: EventSweeper;
  readonly seats: SeatStore;
  readonly availability: AvailabilityHub;
  readonly reaper: EventSweeper;
  /** Undefined when this instance runs no admitter (ADMIT_INTERVAL_MS=0). */
  readonly admitter: Admitter | undefined;
  readonly health: HealthStatus;
  readonly grpc: TransportServer;
  readonly connect: TransportServer;
  /** Binds both ports (0 = any free port) and starts background work. */
  listen(): Promise<{ grpcPort: number; connectPort: number }>;
  /** Graceful stop: NOT_SERVING, streams end UNAVAILABLE, unary calls finish. Leaves Redis to the caller. */
  shutdown(): Promise<void>;
}

/**
 * The composition root: builds every part once and hands dependencies down.
 * Building does no I/O; `listen` binds the ports, so tests run the real
 * server in-process on port 0.
 */
export function buildApp({ config, redis, logger, clockSkewMs }: AppDeps): App {
  const store = new QueueStore(redis, { keyPrefix: config.redisKeyPrefix, clockSkewMs });
  const hub = new WatchHub(store, {
    intervalMs: config.watchIntervalMs,
    maxChangesPerTick: 10_000,
    batchSize: 1_000,
    logger,
  });
  const sweeper = new EventSweeper(store, { intervalMs: config.sweepIntervalMs, batch: 500, what: "idle waiters", logger });
  const admitter = config.admitIntervalMs > 0 ? new Admitter(store, { intervalMs: config.admitIntervalMs, logger }) : undefined;
  const seats = new SeatStore(redis, { keyPrefix: config.redisKeyPrefix, clockSkewMs });
  const availability = new AvailabilityHub(seats, { intervalMs: config.watchIntervalMs, maxChangesPerTick: 10_000, logger });
  const reaper = new EventSweeper(seats, { intervalMs: config.sweepIntervalMs, batch: 500, what: "seat holds", logger });
  const health = new HealthStatus({
    "": ServingStatus.SERVING,
    [QueueService.typeName]: ServingStatus.SERVING,
    [SeatService.typeName]: ServingStatus.SERVING,
  });

  const validator = createRequestValidator();
  const services = [
    registration(QueueService, createQueueService({ store, hub, passes: config.passKeys })),
    registration(SeatService, createSeatService({ store: seats, hub: availability, passes: config.passKeys })),
    createHealthService(health),
  ];
  const reflection = createReflectionServices(
    [QueueService, SeatService, Health, ...reflectionServiceDescriptors],
    [file_google_rpc_error_details, file_boxoffice_v1_errors],
  );
  const registrations = [...services, ...reflection].map((r) => withCallPolicy(r, { logger, validator }));

  const grpc = createGrpcServer(registrations, { logger });
  const connect = createConnectServer(registrations, { logger, corsOrigins: config.corsOrigins });

  let stopping: Promise<void> | undefined;
  return {
    config,
    store,
    hub,
    sweeper,
    seats,
    availability,
    reaper,
    admitter,
    health,
    grpc,
    connect,
    async listen() {
      const [grpcPort, connectPort] = await Promise.all([
        grpc.listen(config.port, config.host),
        connect.listen(config.connectPort, config.host),
      ]);
      sweeper.start();
      reaper.start();
      admitter?.start();
      return { grpcPort, connectPort };
    },
    shutdown() {
      stopping ??= (async () => {
        health.setAll(ServingStatus.NOT_SERVING);
        await Promise.all([grpc.shutdown(config.shutdownGraceMs), connect.shutdown(config.shutdownGraceMs)]);
        await Promise.all([sweeper.stop(), reaper.stop(), admitter?.stop()]);
      })();
      return stopping;
    },
  };
}
