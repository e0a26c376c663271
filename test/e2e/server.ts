import { randomBytes } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import pino, { type Logger } from "pino";
import { buildApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import type { RpcObserver } from "../../src/observe/rpc-observer.js";
import type { ScriptObserver } from "../../src/observe/script-observer.js";
import { createRedisClient } from "../../src/redis/redis-client.js";
import { ServerWaitConnections } from "../../src/redis/wait-connections.js";
import { connectRedis, redisUrl } from "../support/redis.js";

export interface RunningServer {
  readonly app: App;
  readonly redis: Redis;
  readonly grpcUrl: string;
  readonly connectUrl: string;
  readonly grpcPort: number;
  readonly connectPort: number;
  /** `http://127.0.0.1:<port>/metrics`, when the test turned metrics on (METRICS_PORT=0). */
  readonly metricsUrl: string | undefined;
  /** Every way a caller can reach the service, by name. */
  readonly transports: Readonly<Record<"grpc-port/grpc" | "connect-port/grpc" | "connect-port/connect" | "connect-port/grpc-web", Transport>>;
  client<S extends DescService>(service: S, transport?: Transport): Client<S>;
  advance(ms: number): void;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** Redis database the app works in (default 0); a test that counts keys takes one of its own. */
  readonly db?: number;
  /** Where the app logs; silent by default. */
  readonly logger?: Logger;
  /** A Redis of the test's own instead of the shared test Redis. */
  readonly redisUrl?: string;
  /** Observers of the calls and of the script calls (tracing tests). */
  readonly rpcObserver?: RpcObserver;
  readonly scriptObserver?: ScriptObserver;
}

/**
 * The real app, in-process, on two free ports of 127.0.0.1, over the test
 * Redis. Without AUTH_TOKENS in `env` it runs in development mode (no
 * authentication), as most tests want.
 */
export async function startServer(env: Record<string, string> = {}, options: ServerOptions = {}): Promise<RunningServer> {
  const config = loadConfig({
    PORT: "0",
    CONNECT_PORT: "0",
    // Metrics on, as in production (the call path then runs through the observers), on a free port.
    METRICS_PORT: "0",
    HOST: "127.0.0.1",
    WATCH_INTERVAL_MS: "50",
    SHUTDOWN_GRACE_MS: "2000",
    // Each server owns its keys, so its sweepers and admitter touch only its own tests' events.
    REDIS_KEY_PREFIX: `t${randomBytes(6).toString("hex")}:`,
    // Most tests watch positions hold still; the admission tests turn the admitter on.
    ADMIT_INTERVAL_MS: "0",
    // On a busy test machine a slow PONG must not read as an outage; the outage tests set their own.
    REDIS_COMMAND_TIMEOUT_MS: "10000",
    ...env,
  });
  const logger = options.logger ?? pino({ level: "silent" });
  let redis: Redis;
  if (options.redisUrl === undefined) {
    redis = connectRedis({ db: options.db ?? 0 });
  } else {
    redis = createRedisClient(options.redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs, logger });
    await redis.connect();
    if (options.db) await redis.select(options.db);
  }
  const waitRedis =
    config.redisWait.replicas > 0
      ? new ServerWaitConnections(options.redisUrl ?? redisUrl(), {
          commandTimeoutMs: config.redisCommandTimeoutMs,
          waitTimeoutMs: config.redisWait.timeoutMs,
          logger,
        })
      : undefined;
  await waitRedis?.connect();
  let skew = 0;
  const app = buildApp({
    config,
    redis,
    waitRedis,
    logger,
    clockSkewMs: () => skew,
    rpcObserver: options.rpcObserver,
    scriptObserver: options.scriptObserver,
  });
  const { grpcPort, connectPort, metricsPort } = await app.listen();
  const grpcUrl = `http://127.0.0.1:${grpcPort}`;
  const connectUrl = `http://127.0.0.1:${connectPort}`;
  const transports = {
    "grpc-port/grpc": createGrpcTransport({ baseUrl: grpcUrl }),
    "connect-port/grpc": createGrpcTransport({ baseUrl: connectUrl }),
    "connect-port/connect": createConnectTransport({ baseUrl: connectUrl, httpVersion: "1.1" }),
    "connect-port/grpc-web": createGrpcWebTransport({ baseUrl: connectUrl, httpVersion: "1.1" }),
  } as const;
  return {
    app,
    redis,
    grpcUrl,
    connectUrl,
    grpcPort,
    connectPort,
    metricsUrl: metricsPort === undefined ? undefined : `http://127.0.0.1:${metricsPort}/metrics`,
    transports,
    client: (service, transport = transports["grpc-port/grpc"]) => createClient(service, transport),
    advance(ms) {
      skew += ms;
    },
    async stop() {
      await app.shutdown();
      waitRedis?.clients.forEach((r) => r.disconnect());
      if (options.redisUrl !== undefined) {
        redis.disconnect();
      }
    },
  };
}
