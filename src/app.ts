import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { file_boxoffice_v1_errors } from "../gen/boxoffice/v1/errors_pb.js";
import { ChangeFeedService } from "../gen/boxoffice/v1/feed_pb.js";
import { QueueService } from "../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../gen/boxoffice/v1/seats_pb.js";
import { file_google_rpc_error_details } from "../gen/google/rpc/error_details_pb.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { Authenticator } from "./auth/authenticator.js";
import type { Config } from "./config.js";
import { FeedStore } from "./feed/feed-store.js";
import { SubscriptionCounter } from "./feed/subscription.js";
import type { DeliveryPolicy } from "./feed/types.js";
import { FeedWakeups } from "./feed/wakeups.js";
import { StoredBackoff } from "./redis/outcomes.js";
import { createHealthService } from "./health/health-service.js";
import { HealthStatus, ServingStatus } from "./health/health-status.js";
import { registerEventMetrics } from "./metrics/event-metrics.js";
import { EventStats } from "./metrics/event-stats.js";
import { createMetricsCore } from "./metrics/metrics.js";
import { createMetricsServer, type MetricsServer } from "./metrics/metrics-server.js";
import { composeRpcObservers, type RpcObserver, type Transport } from "./observe/rpc-observer.js";
import { composeScriptObservers, type ScriptObserver } from "./observe/script-observer.js";
import { Admitter } from "./queue/admitter.js";
import { positionWatch, type PositionHub } from "./queue/position-watch.js";
import { QueueStore } from "./queue/queue-store.js";
import { EventSweeper } from "./redis/event-sweeper.js";
import { subscriberConnection, type RedisConnection } from "./redis/redis-cluster.js";
import type { ReplicaWaitConnections } from "./redis/wait-connections.js";
import { RedisMonitor } from "./redis/redis-monitor.js";
import { createReflectionServices, reflectionServiceDescriptors } from "./reflection/reflection-services.js";
import { withBackendGuard } from "./rpc/backend-guard.js";
import { withDefaultDeadline } from "./rpc/default-deadline.js";
import { withCallPolicy } from "./rpc/policy.js";
import { registration } from "./rpc/registration.js";
import { StreamGate, withStreamGate } from "./rpc/stream-gate.js";
import { createRequestValidator } from "./rpc/validator.js";
import { availabilityWatch, type AvailabilityHub } from "./seats/availability-loop.js";
import { SeatStore, type SeatStoreOptions } from "./seats/seat-store.js";
import { createFeedService } from "./services/feed-service.js";
import { createQueueService } from "./services/queue-service.js";
import { createSeatService } from "./services/seat-service.js";
import { createConnectServer } from "./transport/connect-server.js";
import { createGrpcServer } from "./transport/grpc-server.js";
import { grpcCredentials } from "./transport/tls.js";
import type { TransportServer } from "./transport/transport-server.js";
import { OutboxNotifications, type ShardedSubscriber } from "./watch/outbox-notifications.js";
import { OutboxReader } from "./watch/outbox-reader.js";
import { WatchHub } from "./watch/watch-hub.js";

export interface AppDeps {
  readonly config: Config;
  /** One Redis server or a Redis Cluster (`REDIS_CLUSTER_NODES`). */
  readonly redis: RedisConnection;
  /** A client whose commands may outlast the command timeout, for LoadSeatMap (default: `redis`). */
  readonly loadRedis?: RedisConnection;
  /**
   * Connections used only by writes that wait for replicas (ConfirmHold with
   * `WAIT`, see `ReplicatedScripts`), to the one server or to each primary of
   * the cluster; required when REDIS_WAIT_REPLICAS > 0. Owned by the caller.
   */
  readonly waitRedis?: ReplicaWaitConnections;
  readonly logger: Logger;
  /**
   * The connection that receives the outbox notifications (sharded Pub/Sub),
   * owned by the app from here on. Default: `redis.duplicate()`, connected at
   * the first followed event.
   */
  readonly subscriber?: ShardedSubscriber;
  /** Test hook: milliseconds added to Redis TIME by every script. */
  readonly clockSkewMs?: () => number;
  /** Sees every call on both ports (tracing), beside the metrics when METRICS_PORT is not off. */
  readonly rpcObserver?: RpcObserver | undefined;
  /** Sees every Redis script call of the stores (tracing), beside the metrics. */
  readonly scriptObserver?: ScriptObserver | undefined;
}

export interface AppMetrics {
  readonly registry: Registry;
  /** The per-event figures; tests call `refresh()` rather than wait for the timer. */
  readonly events: EventStats;
  readonly server: MetricsServer;
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
  /** Undefined with METRICS_PORT=off: then nothing is observed at all. */
  readonly metrics: AppMetrics | undefined;
  /** The open WatchPosition, WatchAvailability and Subscribe streams of both ports, and their cap (MAX_OPEN_STREAMS). */
  readonly streams: StreamGate;
  /** Binds both ports and the metrics port (0 = any free port) and starts background work. */
  listen(): Promise<{ grpcPort: number; connectPort: number; metricsPort: number | undefined }>;
  /** Graceful stop: NOT_SERVING, streams end UNAVAILABLE, unary calls finish. Leaves Redis to the caller. */
  shutdown(): Promise<void>;
}

/**
 * The composition root: builds every part once and hands dependencies down.
 * Building does no I/O; `listen` binds the ports, so tests run the real
 * server in-process on port 0.
 */
export function buildApp({ config, redis, loadRedis, waitRedis, subscriber, logger, clockSkewMs, rpcObserver, scriptObserver: given }: AppDeps): App {
  const retentionMs = config.feedRetentionMs;
  // Metrics (METRICS_PORT) and any given observers (tracing) see the same calls, composed; undefined when none does.
  const core = config.metrics && createMetricsCore();
  const scriptObserver = composeScriptObservers(core?.scripts, given);
  const store = new QueueStore(redis, { keyPrefix: config.redisKeyPrefix, clockSkewMs, retentionMs, scriptObserver });
  const outbox = new OutboxReader(redis, {
    keyPrefix: config.redisKeyPrefix,
    intervalMs: config.watchIntervalMs,
    maxEntriesPerRead: 10_000,
    retryGraceMs: config.watchRetryGraceMs,
    logger,
    // A subscription may wait for the connection (the offline queue): it is not a call with a deadline.
    notifications: new OutboxNotifications(subscriber ?? subscriberConnection(redis), logger),
  });
  const hub: PositionHub = new WatchHub(outbox, positionWatch(store, { batchSize: 1_000, logger, cadence: config.watchCadence }));
  const sweeper = new EventSweeper(store, { intervalMs: config.sweepIntervalMs, batch: 500, what: "idle waiters", logger });
  const admitter = config.admitIntervalMs > 0 ? new Admitter(store, { intervalMs: config.admitIntervalMs, logger }) : undefined;
  const seats = new SeatStore(redis, {
    keyPrefix: config.redisKeyPrefix,
    clockSkewMs,
    retentionMs,
    loadRedis,
    scriptObserver,
    confirmWait: confirmWait(config, waitRedis),
  });
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
  const streams = new StreamGate(config.maxOpenStreams);
  // Every service that needs Redis fails fast and ends its streams while Redis is unreachable.
  const redisBacked = [
    registration(QueueService, createQueueService({ store, hub, passes: config.passKeys })),
    registration(SeatService, createSeatService({ store: seats, hub: availability, passes: config.passKeys })),
    registration(
      ChangeFeedService,
      createFeedService({
        ...feed,
        outbox: { follow: (eventId) => outbox.follow(eventId, config.feed.pollMs) },
        retentionHours: config.feed.retentionHours,
      }),
    ),
  ].map((reg) => withStreamGate(withBackendGuard(reg, redisMonitor), streams));
  const services = [...redisBacked, createHealthService(health)];
  const reflection = createReflectionServices(
    [QueueService, SeatService, ChangeFeedService, Health, ...reflectionServiceDescriptors],
    [file_google_rpc_error_details, file_boxoffice_v1_errors],
  );
  const authenticator = config.authTokens && new Authenticator(config.authTokens);
  const policy = { logger, validator, authenticator, openReflection: config.authOpenReflection, logCalls: config.logCalls };
  const observer = composeRpcObservers(core?.calls, rpcObserver);
  // Wrapped once per port, so each call's observations carry the port it came in on.
  const registrations = (transport: Transport) =>
    [...services, ...reflection].map((r) =>
      withCallPolicy(withDefaultDeadline(r, config.defaultDeadlineMs), { ...policy, observe: observer && { observer, transport } }),
    );

  const limits = {
    keepaliveTimeMs: config.keepaliveTimeMs,
    keepaliveTimeoutMs: config.keepaliveTimeoutMs,
    maxConcurrentStreams: config.maxConcurrentStreams,
  };
  const grpc = createGrpcServer(registrations("grpc"), {
    ...limits,
    logger,
    credentials: grpcCredentials(config.tls),
    maxReceiveMessageBytes: config.maxReceiveMessageBytes,
    maxSendMessageBytes: config.maxSendMessageBytes,
    observer,
  });
  const connect = createConnectServer(registrations("connect"), {
    ...limits,
    logger,
    tls: config.tls,
    corsOrigins: config.corsOrigins,
    readMaxBytes: config.maxReceiveMessageBytes,
    writeMaxBytes: config.maxSendMessageBytes,
    observer,
  });

  let metrics: AppMetrics | undefined;
  if (core !== undefined && config.metrics !== undefined) {
    const events = new EventStats(
      { redis, keyPrefix: config.redisKeyPrefix, queue: store, seats, feed: feed.store, logger },
      { maxEvents: config.metrics.maxEvents, intervalMs: config.metrics.refreshMs },
    );
    registerEventMetrics(core.registry, { stats: events, watches: { position: hub, availability } });
    metrics = { registry: core.registry, events, server: createMetricsServer(core.registry, logger) };
  }

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
    metrics,
    streams,
    async listen() {
      const [grpcPort, connectPort, metricsPort] = await Promise.all([
        grpc.listen(config.port, config.host),
        connect.listen(config.connectPort, config.host),
        config.metrics && metrics?.server.listen(config.metrics.port, config.metrics.host),
      ]);
      redisMonitor.start();
      sweeper.start();
      reaper.start();
      admitter?.start();
      metrics?.events.start();
      return { grpcPort, connectPort, metricsPort };
    },
    shutdown() {
      stopping ??= (async () => {
        // Draining wins over Redis coming back: nothing sets SERVING after this.
        followRedis();
        health.setAll(ServingStatus.NOT_SERVING);
        await Promise.all([grpc.shutdown(config.shutdownGraceMs), connect.shutdown(config.shutdownGraceMs)]);
        await Promise.all([sweeper.stop(), reaper.stop(), admitter?.stop(), outbox.close(), redisMonitor.stop(), metrics?.events.stop()]);
        // Scrapes are answered until the calls have drained, so the last counts can still be read.
        await metrics?.server.close();
      })();
      return stopping;
    },
  };
}

function confirmWait({ redisWait }: Config, connections: ReplicaWaitConnections | undefined): SeatStoreOptions["confirmWait"] {
  if (redisWait.replicas === 0) {
    return undefined;
  }
  if (connections === undefined) {
    throw new Error("REDIS_WAIT_REPLICAS > 0 needs connections of their own for waiting writes (AppDeps.waitRedis)");
  }
  return { connections, policy: redisWait };
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
