import { randomBytes } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Cluster } from "ioredis";
import pino from "pino";
import { buildApp, type App } from "../../src/app.js";
import { loadConfig, type Config } from "../../src/config.js";
import { closeRedisClient } from "../../src/redis/redis-client.js";
import { connectRedisCluster, createRedisCluster } from "../../src/redis/redis-cluster.js";
import { ClusterWaitConnections } from "../../src/redis/wait-connections.js";
import type { LocalCluster } from "../support/redis-cluster.js";

export interface ClusterServer {
  readonly app: App;
  readonly redis: Cluster;
  /** The connections of sales that wait for replicas, with REDIS_WAIT_REPLICAS > 0. */
  readonly waitRedis: ClusterWaitConnections | undefined;
  /** The key prefix of this server's events. */
  readonly prefix: string;
  client<S extends DescService>(service: S): Client<S>;
  /** Resolves once the Redis monitor reports the cluster reachable (at once if it does). */
  untilAvailable(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The real app on a free gRPC port of 127.0.0.1, over the local cluster, configured as `npm start` would be
 * (plus `env`); `tune` may change what no variable can, such as a watch interval longer than a test.
 */
export async function startClusterServer(
  cluster: LocalCluster,
  env: Record<string, string> = {},
  tune: (config: Config) => Config = (config) => config,
): Promise<ClusterServer> {
  const prefix = `t${randomBytes(6).toString("hex")}:`;
  const config = tune(loadConfig({
    PORT: "0",
    CONNECT_PORT: "0",
    HOST: "127.0.0.1",
    WATCH_INTERVAL_MS: "50",
    SHUTDOWN_GRACE_MS: "2000",
    REDIS_KEY_PREFIX: prefix,
    ADMIT_INTERVAL_MS: "20",
    REDIS_CLUSTER_NODES: cluster.seeds,
    REDIS_COMMAND_TIMEOUT_MS: "2000",
    REDIS_HEALTH_INTERVAL_MS: "100",
    METRICS_PORT: "0",
    ...env,
  }));
  const logger = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });
  const redis = createRedisCluster(config.redisClusterNodes ?? [], { commandTimeoutMs: config.redisCommandTimeoutMs, logger });
  await connectRedisCluster(redis);
  const waitRedis =
    config.redisWait.replicas > 0
      ? new ClusterWaitConnections(redis, { commandTimeoutMs: config.redisCommandTimeoutMs, waitTimeoutMs: config.redisWait.timeoutMs, logger })
      : undefined;
  const app = buildApp({ config, redis, waitRedis, logger });
  const { grpcPort } = await app.listen();
  const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` });
  return {
    app,
    redis,
    waitRedis,
    prefix,
    client: (service) => createClient(service, transport),
    untilAvailable: () =>
      new Promise<void>((resolve) => {
        if (app.redisMonitor.available) return resolve();
        const stop = app.redisMonitor.subscribe((available) => {
          if (available) {
            stop();
            resolve();
          }
        });
      }),
    async stop() {
      await app.shutdown();
      await waitRedis?.close();
      await closeRedisClient(redis);
    },
  };
}
