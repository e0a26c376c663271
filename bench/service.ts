import { create, toBinary } from "@bufbuild/protobuf";
import {
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../gen/grpc/health/v1/health_pb.js";
import { loadConfig } from "../src/config.js";
import { type Child, type ChildSet, freePort } from "./children.js";
import { callOk, until } from "./h2-unary.js";

export const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

/** An empty Check request: the baseline body and the readiness probe. */
export const healthCheckBody = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, {}));

/** Boxoffice running as its own process (`src/main.ts`), as in production. */
export interface ServiceProcess {
  readonly child: Child;
  readonly grpcPort: number;
  readonly connectPort: number;
  readonly watchIntervalMs: number;
  /** The WatchPosition cadence: `off` (every change to everyone) or `on` with its settings. */
  readonly cadence: string;
  /** SIGTERM, then checks the process exited with code 0 (SIGKILL after `graceMs`, 15 s by default). */
  stop(graceMs?: number): Promise<void>;
}

export interface ServiceOptions {
  /** REDIS_URL; or, for a Redis Cluster, `redisClusterNodes` (REDIS_CLUSTER_NODES) instead. */
  readonly redisUrl?: string | undefined;
  readonly redisClusterNodes?: string | undefined;
  readonly watchIntervalMs: number;
  /** WATCH_FAR_INTERVAL_MS=0: every position change to every watcher; the defaults' cadence when unset. */
  readonly cadenceOff?: boolean | undefined;
  /** ADMIT_INTERVAL_MS; the service's default (its admitter on) when unset. */
  readonly admitIntervalMs?: number | undefined;
  /** PASS_KEYS, for a caller that verifies the passes; a random key per process when unset. */
  readonly passKeys?: string | undefined;
  /** Node writes a .cpuprofile here when the process exits. */
  readonly cpuProfileDir?: string | undefined;
  /** FEED_POLL_MS; the service's default when unset. */
  readonly feedPollMs?: number | undefined;
  /** REDIS_COMMAND_TIMEOUT_MS; the service's default when unset. */
  readonly redisCommandTimeoutMs?: number | undefined;
  /** More Node options for the process (`bench/stream-memory.ts` asks for heap snapshots). */
  readonly nodeArgs?: readonly string[] | undefined;
  /** More environment for the process (the traces bench sets OTEL_*). */
  readonly env?: Readonly<Record<string, string>> | undefined;
}

/** The cadence a service started with this environment runs, as a label. */
function describeCadence(env: NodeJS.ProcessEnv): string {
  const { exactWithin, farMinChange, farIntervalMs } = loadConfig({
    WATCH_EXACT_WITHIN: env["WATCH_EXACT_WITHIN"],
    WATCH_FAR_MIN_CHANGE_PERCENT: env["WATCH_FAR_MIN_CHANGE_PERCENT"],
    WATCH_FAR_INTERVAL_MS: env["WATCH_FAR_INTERVAL_MS"],
  }).watchCadence;
  return farIntervalMs === 0 ? "off" : `on: exact within ${exactWithin}, ${+(farMinChange * 100).toFixed(3)}% or ${farIntervalMs} ms`;
}

/** Starts `src/main.ts` on two free loopback ports and waits until both answer a health Check with SERVING. */
export async function startService(children: ChildSet, options: ServiceOptions): Promise<ServiceProcess> {
  const [grpcPort, connectPort] = await Promise.all([freePort(), freePort()]);
  const nodeArgs = [...(options.cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", options.cpuProfileDir] : []), ...(options.nodeArgs ?? [])];
  const child = children.node(`service (WATCH_INTERVAL_MS=${options.watchIntervalMs})`, "src/main.ts", {
    nodeArgs,
    env: {
      REDIS_URL: options.redisUrl ?? "",
      REDIS_CLUSTER_NODES: options.redisClusterNodes ?? "",
      PORT: String(grpcPort),
      CONNECT_PORT: String(connectPort),
      METRICS_PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      WATCH_INTERVAL_MS: String(options.watchIntervalMs),
      ...(options.cadenceOff ? { WATCH_FAR_INTERVAL_MS: "0" } : {}),
      SHUTDOWN_GRACE_MS: "5000",
      ...(options.admitIntervalMs === undefined ? {} : { ADMIT_INTERVAL_MS: String(options.admitIntervalMs) }),
      ...(options.passKeys === undefined ? {} : { PASS_KEYS: options.passKeys }),
      ...(options.feedPollMs === undefined ? {} : { FEED_POLL_MS: String(options.feedPollMs) }),
      ...(options.redisCommandTimeoutMs === undefined ? {} : { REDIS_COMMAND_TIMEOUT_MS: String(options.redisCommandTimeoutMs) }),
      ...options.env,
    },
  });
  const serving = async (port: number): Promise<void> => {
    if (!child.running) throw new Error(`${child.name} exited; output: ${child.output.slice(-1500)}`);
    const { response } = await callOk(port, HEALTH_CHECK, healthCheckBody, HealthCheckResponseSchema);
    if (response.status !== HealthCheckResponse_ServingStatus.SERVING) throw new Error(`status ${response.status}`);
  };
  try {
    await until(`${child.name} on port ${grpcPort}`, 30_000, () => serving(grpcPort));
    await until(`${child.name} on port ${connectPort}`, 10_000, () => serving(connectPort));
  } catch (err) {
    await child.stop("SIGKILL", 0);
    throw err;
  }
  return {
    child,
    grpcPort,
    connectPort,
    watchIntervalMs: options.watchIntervalMs,
    cadence: options.cadenceOff ? "off" : describeCadence({ ...process.env, ...options.env }),
    async stop(graceMs?: number) {
      const { code, signal } = await child.stop("SIGTERM", graceMs);
      if (code !== 0) {
        throw new Error(`${child.name} did not exit cleanly on SIGTERM (code ${code}, signal ${signal}): ${child.output.slice(-1500)}`);
      }
    },
  };
}
