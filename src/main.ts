import { buildApp } from "./app.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { createLogger } from "./logger.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "./redis/embedded-redis.js";
import { hostPort } from "./transport/transport-server.js";
import { closeRedisClient, createRedisClient, LOAD_COMMAND_TIMEOUT_MS } from "./redis/redis-client.js";
import { connectRedisCluster, createRedisCluster, type RedisConnection } from "./redis/redis-cluster.js";
import { ClusterWaitConnections, ServerWaitConnections, type ReplicaWaitConnections } from "./redis/wait-connections.js";

/**
 * `npm start`: validates the configuration, connects to REDIS_CLUSTER_NODES
 * or REDIS_URL (or starts a private redis-server when neither is set), serves
 * both ports, and stops gracefully on SIGTERM/SIGINT. With an OTLP endpoint
 * configured, it also loads the OpenTelemetry SDK and exports a span per call
 * and per script.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`boxoffice: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  // The OpenTelemetry SDK is loaded only when traces are exported.
  const tracing = config.traces && (await import("./observe/otel-sdk.js")).startTracing(config.traces, { logger });

  const { redis, loadRedis, waitRedis, embedded } = await connectRedis(config, logger);
  const app = buildApp({ config, redis, loadRedis, waitRedis, logger, rpcObserver: tracing?.rpc, scriptObserver: tracing?.scripts });
  const { grpcPort, connectPort, metricsPort } = await app.listen();
  if (config.authTokens === undefined) {
    logger.warn(
      "DEVELOPMENT MODE: running WITHOUT authentication, every caller may call every RPC; set AUTH_TOKENS (and NODE_ENV=production) for real use",
    );
  } else {
    const count = (role: string): number => config.authTokens?.filter((t) => t.role === role).length ?? 0;
    logger.info({ clientTokens: count("client"), adminTokens: count("admin"), openReflection: config.authOpenReflection }, "bearer tokens required");
  }
  if (config.tls === undefined && config.authTokens !== undefined && config.host !== "127.0.0.1" && config.host !== "::1") {
    logger.warn({ host: config.host }, "bearer tokens travel in cleartext: set TLS_CERT and TLS_KEY, or keep the ports on a private network");
  }
  logger.info({ tls: config.tls === undefined ? "off" : config.tls.clientCa === undefined ? "on" : "mutual" }, "transport security");
  logger.info(
    {
      keepaliveTimeMs: config.keepaliveTimeMs,
      keepaliveTimeoutMs: config.keepaliveTimeoutMs,
      maxConcurrentStreams: config.maxConcurrentStreams,
      maxReceiveMessageBytes: config.maxReceiveMessageBytes,
      maxSendMessageBytes: config.maxSendMessageBytes,
      defaultDeadlineMs: config.defaultDeadlineMs,
      maxOpenStreams: config.maxOpenStreams,
    },
    "limits",
  );
  if (config.passKeysGenerated) {
    logger.warn("PASS_KEYS is not set: admission passes are signed with a random key of this process only; other instances and backends cannot verify them");
  }
  logger.info(
    {
      grpc: `${config.host}:${grpcPort}`,
      connect: `${config.host}:${connectPort}`,
      metrics: config.metrics === undefined ? "off" : `http://${hostPort(config.metrics.host, metricsPort ?? config.metrics.port)}/metrics`,
      pid: process.pid,
    },
    "boxoffice is serving",
  );

  let exiting = false;
  const stop = async (signal: string): Promise<void> => {
    if (exiting) {
      return;
    }
    exiting = true;
    logger.info({ signal }, "shutting down");
    try {
      await app.shutdown();
      // After the calls: the spans of the last ones are exported too.
      await tracing?.shutdown();
      await Promise.all([closeRedisClient(redis), closeRedisClient(loadRedis), waitRedis?.close()]);
      await embedded?.stop();
      logger.info("stopped");
      process.exit(0);
    } catch (err) {
      logger.error({ err }, "shutdown failed");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

interface Connected {
  readonly redis: RedisConnection;
  readonly loadRedis: RedisConnection;
  /** Connections of their own for sales that wait for replicas (REDIS_WAIT_REPLICAS > 0). */
  readonly waitRedis: ReplicaWaitConnections | undefined;
  readonly embedded: EmbeddedRedis | undefined;
}

/**
 * The two connected clients (LoadSeatMap's with its long timeout), the
 * waiting connections when sales wait for replicas (to a cluster's primaries:
 * opened on each one's first sale), and the private server if one was started.
 */
async function connectRedis(config: Config, logger: ReturnType<typeof createLogger>): Promise<Connected> {
  const commandTimeoutMs = config.redisCommandTimeoutMs;
  const waitOptions = { commandTimeoutMs, waitTimeoutMs: config.redisWait.timeoutMs, logger };
  if (config.redisClusterNodes !== undefined) {
    const nodes = config.redisClusterNodes;
    const redis = createRedisCluster(nodes, { commandTimeoutMs, logger });
    const loadRedis = createRedisCluster(nodes, { commandTimeoutMs: LOAD_COMMAND_TIMEOUT_MS, logger });
    await Promise.all([connectRedisCluster(redis), connectRedisCluster(loadRedis)]);
    logger.info({ seeds: nodes.map((n) => `${n.host}:${n.port}`), primaries: redis.nodes("master").length }, "connected to the redis cluster");
    const waitRedis = config.redisWait.replicas > 0 ? new ClusterWaitConnections(redis, waitOptions) : undefined;
    return { redis, loadRedis, waitRedis, embedded: undefined };
  }
  let embedded: EmbeddedRedis | undefined;
  let redisUrl = config.redisUrl;
  if (redisUrl === undefined) {
    embedded = await startEmbeddedRedis({ logger });
    redisUrl = embedded.url;
    logger.warn(
      { redis: embedded.url },
      "REDIS_URL is not set: started a private redis-server for development; its data is lost on exit",
    );
  }
  const redis = createRedisClient(redisUrl, { commandTimeoutMs, logger });
  const loadRedis = createRedisClient(redisUrl, { commandTimeoutMs: LOAD_COMMAND_TIMEOUT_MS, logger });
  const waitRedis = config.redisWait.replicas > 0 ? new ServerWaitConnections(redisUrl, waitOptions) : undefined;
  await Promise.all([redis.connect(), loadRedis.connect(), waitRedis?.connect()]);
  return { redis, loadRedis, waitRedis, embedded };
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`boxoffice: ${message}\n`);
  process.exit(1);
});
