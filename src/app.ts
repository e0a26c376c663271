import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { file_boxoffice_v1_errors } from "../gen/boxoffice/v1/errors_pb.js";
import { ChangeFeedService } from "../gen/boxoffice/v1/feed_pb.js";
import { QueueService } from "../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../gen/boxoffice/v1/seats_pb.js";
import { file_google_rpc_error_details } from "../gen/google/rpc/error_details_pb.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { Authenticator } from "./auth/authenticator.js";
import type { Config } from "./config.js";
import { FeedStore } from "./feed/feed-store.js";
import { PollingOutboxSignal } from "./feed/outbox-signal.js";
import { SubscriptionCounter } from "./feed/subscription.js";
import type { DeliveryPolicy } from "./feed/types.js";
import { FeedWakeups } from "./feed/wakeups.js";
import { StoredBackoff } from "./redis/outcomes.js";
import { createHealthService } from "./health/health-service.js";
import { HealthStatus, ServingStatus } from "./health/health-status.js";
import type { RpcObserver } from "./observe/rpc-observer.js";
import type { ScriptObserver } from "./observe/script-observer.js";
import { Admitter } from "./queue/admitter.js";
import { positionWatch, type PositionHub } from "./queue/position-watch.js";
import { QueueStore } from "./queue/queue-store.js";
import { EventSweeper } from "./redis/event-sweeper.js";
import { RedisMonitor } from "./redis/redis-monitor.js";
import { createReflectionServices, reflectionServiceDescriptors } from "./reflection/reflection-services.js";
import { withBackendGuard } from "./rpc/backend-guard.js";
import { withCallPolicy } from "./rpc/policy.js";
import { registration } from "./rpc/registration.js";
import { createRequestValidator } from "./rpc/validator.js";
import { availabilityWatch, type AvailabilityHub } from "./seats/availability-loop.js";
import { SeatStore } from "./seats/seat-store.js";
import { createFeedService } from "./services/feed-service.js";
import { createQueueService } from "./services/queue-service.js";
import { createSeatService } from "./services/seat-service.js";
import { createConnectServer } from "./transport/connect-server.js";
import { createGrpcServer } from "./transport/grpc-server.js";
import { grpcCredentials } from "./transport/tls.js";
import type { TransportServer } from "./transport/transport-server.js";
import { OutboxReader } from "./watch/outbox-reader.js";
import { WatchHub } from "./watch/watch-hub.js";

export interface AppDeps {
  readonly config: Config;
  readonly redis: Redis;
  /** A client whose commands may outlast the command timeout, for LoadSeatMap (default: `redis`). */
  readonly loadRedis?: Redis;
  readonly logger: Logger;
  /** Test hook: milliseconds added to Redis TIME by every script. */
  readonly clockSkewMs?: () => number;
  /** Sees every call on both ports (tracing, metrics). */
  readonly rpcObserver?: RpcObserver;
  /** Sees every Redis script call of the stores. */
  readonly scriptObserver?: ScriptObserver;
}

export interface App {
  readonly config: Config;
  readonly store: QueueStore;
  /** The process's one reader of the event outboxes, feeding both watch hubs. */
  readonly outbox: OutboxReader;
  readonly hub: PositionHub;
  readonly sweeper: EventSweeper;
  readonly seats: SeatStore;
  readonly availability: AvailabilityHub;
  readonly reaper: EventSweeper;
  readonly feed: { readonly store: FeedStore; readonly wakeups: FeedWakeups; readonly subscriptions: SubscriptionCounter };
  /** Undefined when this instance runs no admitter (ADMIT_INTERVAL_MS=0). */
  readonly admitter: Admitter | undefined;
  readonly health: HealthStatus;
  /** Whether Redis answers; drives health, and refuses calls and ends streams while it does not. */
  readonly redisMonitor: RedisMonitor;
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
export function buildApp({ config, redis, loadRedis, logger, clockSkewMs, rpcObserver, scriptObserver }: AppDeps): App {
  const retentionMs = config.feedRetentionMs;
  const store = new QueueStore(redis, { keyPrefix: config.redisKeyPrefix, clockSkewMs, retentionMs, scriptObserver });
  const outbox = new OutboxReader(redis, {
    keyPrefix: config.redisKeyPrefix,
    intervalMs: config.watchIntervalMs,
    maxEntriesPerRead: 10_000,
    logger,
  });
  const hub: PositionHub = new WatchHub(outbox, positionWatch(store, { batchSize: 1_000, logger }));
  const sweeper = new EventSweeper(store, { intervalMs: config.sweepIntervalMs, batch: 500, what: "idle waiters", logger });
  const admitter = config.admitIntervalMs > 0 ? new Admitter(store, { intervalMs: config.admitIntervalMs, logger }) : undefined;
  const seats = new SeatStore(redis, { keyPrefix: config.redisKeyPrefix, clockSkewMs, retentionMs, loadRedis, scriptObserver });
  const availability: AvailabilityHub = new WatchHub(outbox, availabilityWatch(seats, { logger }));
  const reaper = new EventSweeper(seats, { intervalMs: config.sweepIntervalMs, batch: 500, what: "seat holds", logger });
  const feed = {
    store: new FeedStore(redis, { keyPrefix: config.redisKeyPrefix, policy: deliveryPolicy(config), clockSkewMs, scriptObserver }),
    wakeups: new FeedWakeups(),
    subscriptions: new SubscriptionCounter(),
  };
  const health = new HealthStatus({
    "": ServingStatus.SERVING,
    [QueueService.typeName]: ServingStatus.SERVING,
    [SeatService.typeName]: ServingStatus.SERVING,
    [ChangeFeedService.typeName]: ServingStatus.SERVING,
  });

  const redisMonitor = new RedisMonitor(redis, {
    intervalMs: config.redisHealthIntervalMs,
    timeoutMs: config.redisCommandTimeoutMs,
    logger,
  });
  const followRedis = redisMonitor.subscribe((available) =>
    health.setAll(available ? ServingStatus.SERVING : ServingStatus.NOT_SERVING),
  );

  const validator = createRequestValidator();
  // Every service that needs Redis fails fast and ends its streams while Redis is unreachable.
  const redisBacked = [
    registration(QueueService, createQueueService({ store, hub, passes: config.passKeys })),
    registration(SeatService, createSeatService({ store: seats, hub: availability, passes: config.passKeys })),
    registration(
      ChangeFeedService,
      createFeedService({ ...feed, outbox: new PollingOutboxSignal(config.feed.pollMs), retentionHours: config.feed.retentionHours }),
    ),
  ].map((reg) => withBackendGuard(reg, redisMonitor));
  const services = [...redisBacked, createHealthService(health)];
  const reflection = createReflectionServices(
    [QueueService, SeatService, ChangeFeedService, Health, ...reflectionServiceDescriptors],
    [file_google_rpc_error_details, file_boxoffice_v1_errors],
  );
  const authenticator = config.authTokens && new Authenticator(config.authTokens);
  const policy = { logger, validator, authenticator, openReflection: config.authOpenReflection, logCalls: config.logCalls, observer: rpcObserver };
  const registrations = [...services, ...reflection].map((r) => withCallPolicy(r, policy));

  const grpc = createGrpcServer(registrations, { logger, credentials: grpcCredentials(config.tls) });
  const connect = createConnectServer(registrations, { logger, tls: config.tls, corsOrigins: config.corsOrigins });

  let stopping: Promise<void> | undefined;
  return {
    config,
    store,
    outbox,
    hub,
    sweeper,
    seats,
    availability,
    reaper,
    feed,
    admitter,
    health,
    redisMonitor,
    grpc,
    connect,
    async listen() {
      const [grpcPort, connectPort] = await Promise.all([
        grpc.listen(config.port, config.host),
        connect.listen(config.connectPort, config.host),
      ]);
      redisMonitor.start();
      sweeper.start();
      reaper.start();
      admitter?.start();
      return { grpcPort, connectPort };
    },
    shutdown() {
      stopping ??= (async () => {
        // Draining wins over Redis coming back: nothing sets SERVING after this.
        followRedis();
        health.setAll(ServingStatus.NOT_SERVING);
        await Promise.all([grpc.shutdown(config.shutdownGraceMs), connect.shutdown(config.shutdownGraceMs)]);
        await Promise.all([sweeper.stop(), reaper.stop(), admitter?.stop(), outbox.close(), redisMonitor.stop()]);
      })();
      return stopping;
    },
  };
}

function deliveryPolicy({ feed }: Config): DeliveryPolicy {
  const backoff = { fixed: StoredBackoff.FIXED, linear: StoredBackoff.LINEAR, exponential: StoredBackoff.EXPONENTIAL }[feed.retryBackoff];
  return {
    visibilityTimeoutMs: feed.visibilityTimeoutMs,
    backoff,
    backoffBaseMs: feed.retryBaseMs,
    backoffMaxMs: feed.retryMaxMs,
    maxDeliveries: feed.maxDeliveries,
  };
}
