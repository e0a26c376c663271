import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { parseTokens, type TokenEntry } from "./auth/tokens.js";
import { readTracesConfig, type TracesConfig } from "./observe/traces-config.js";
import type { WatchCadence } from "./queue/position-walk.js";
import { parsePassKeys, type PassKeyring } from "./pass/pass.js";
import { parseClusterNodes, type ClusterNode } from "./redis/redis-cluster.js";
import { parseCorsOrigins, type CorsOrigins } from "./transport/connect/cors.js";

/** Boxoffice's runtime configuration, read once from the environment. */
export interface Config {
  /** gRPC port served by grpc-js (the fast lane). */
  readonly port: number;
  /** Connect / gRPC-Web / gRPC port served by connect-node. */
  readonly connectPort: number;
  readonly host: string;
  /** Redis to use; undefined starts a private redis-server (development). */
  readonly redisUrl: string | undefined;
  readonly redisKeyPrefix: string;
  readonly logLevel: string;
  /** Pause between ticks of a WatchPosition loop (coalescing window). */
  readonly watchIntervalMs: number;
  /** How long a watch loop's ticks may keep failing, retried with a backoff, before its streams end UNAVAILABLE. */
  readonly watchRetryGraceMs: number;
  /**
   * Which position changes WatchPosition sends at once (WATCH_EXACT_WITHIN,
   * WATCH_FAR_MIN_CHANGE_PERCENT, WATCH_FAR_INTERVAL_MS; interval 0 sends
   * every change to everyone).
   */
  readonly watchCadence: WatchCadence;
  /** Pause between sweeps of idle waiters over all events. */
  readonly sweepIntervalMs: number;
  /** How long shutdown waits for in-flight calls before closing connections. */
  readonly shutdownGraceMs: number;
  /** Pause between admitter ticks; 0 = this instance runs no admitter. */
  readonly admitIntervalMs: number;
  /** How long an event's outbox keeps its entries (FEED_RETENTION_HOURS), in ms. */
  readonly feedRetentionMs: number;
  /** Admission pass keys: the first signs, all verify. */
  readonly passKeys: PassKeyring;
  /** Browser origins allowed to call the Connect port (CORS); empty = none, "*" = any. */
  readonly corsOrigins: CorsOrigins;
  /** True when PASS_KEYS was unset and a random key was made for this process (development only). */
  readonly passKeysGenerated: boolean;
  /** The change feed: redelivery, retries, dead letters and polling (see `FeedConfig`). */
  readonly feed: FeedConfig;
  /** NODE_ENV=production: credentials, pass keys and an external Redis are required. */
  readonly production: boolean;
  /** Bearer tokens and their roles; undefined is development mode (no authentication). */
  readonly authTokens: readonly TokenEntry[] | undefined;
  /** Serve server reflection without credentials (health always is). */
  readonly authOpenReflection: boolean;
  /** Log every call's completion line at info (otherwise at debug). */
  readonly logCalls: boolean;
  /** TLS on both ports; with `clientCa`, mutual TLS. Undefined: plaintext. */
  readonly tls: TlsConfig | undefined;
  /** Most time one Redis command may wait for its reply before the call fails UNAVAILABLE. */
  readonly redisCommandTimeoutMs: number;
  /** Pause between two pings of the Redis health monitor. */
  readonly redisHealthIntervalMs: number;
  /** Replica acknowledgements a sale waits for before ConfirmHold answers (see `ReplicaWaitConfig`). */
  readonly redisWait: ReplicaWaitConfig;
  /** The Prometheus endpoint; undefined with METRICS_PORT=off. */
  readonly metrics: MetricsConfig | undefined;
  /**
   * REDIS_CLUSTER_NODES: seed nodes of a Redis Cluster (any few of its
   * nodes; the rest is discovered). Set, Boxoffice talks to the cluster and
   * REDIS_URL must be unset; undefined: one Redis server (REDIS_URL).
   */
  readonly redisClusterNodes: readonly ClusterNode[] | undefined;
  /** Server HTTP/2 PING interval on both ports (KEEPALIVE_TIME_MS); 0 sends none. */
  readonly keepaliveTimeMs: number;
  /** A connection whose PING is not acknowledged within this time is dropped, and its streams with it. */
  readonly keepaliveTimeoutMs: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS announced on both ports. */
  readonly maxConcurrentStreams: number;
  /** Largest request message accepted on both ports; larger ones are RESOURCE_EXHAUSTED. */
  readonly maxReceiveMessageBytes: number;
  /** Largest response message sent on both ports; a larger one fails the call RESOURCE_EXHAUSTED. */
  readonly maxSendMessageBytes: number;
  /** Deadline of unary calls that arrive without one (DEFAULT_DEADLINE_MS); 0 = none. */
  readonly defaultDeadlineMs: number;
  /** Cap on open WatchPosition, WatchAvailability and Subscribe streams in this process. */
  readonly maxOpenStreams: number;
  /** Traces exported over OTLP (see `readTracesConfig`); undefined: tracing off, its SDK never loaded. */
  readonly traces: TracesConfig | undefined;
}

/**
 * `WAIT numreplicas timeout` after each sale: ConfirmHold answers OK only once
 * `replicas` replicas acknowledged the write, and UNAVAILABLE (NOT_REPLICATED)
 * when they did not within `timeoutMs`. `replicas` 0 waits for nothing. On a
 * Redis Cluster, the replicas counted are those of the event's shard.
 */
export interface ReplicaWaitConfig {
  readonly replicas: number;
  readonly timeoutMs: number;
}

/** Where `/metrics` is served and how the per-event series are kept. */
export interface MetricsConfig {
  /** METRICS_PORT (default 9464; 0 = any free port). */
  readonly port: number;
  /** METRICS_HOST (default: HOST). */
  readonly host: string;
  /** METRICS_REFRESH_MS: pause between two background reads of the per-event figures. */
  readonly refreshMs: number;
  /** METRICS_EVENTS_MAX: most events with per-event series. */
  readonly maxEvents: number;
}

/** How the delay before a redelivery grows with the number of deliveries. */
export type RetryBackoff = "fixed" | "linear" | "exponential";

export interface FeedConfig {
  /** An entry delivered and not acknowledged for this long is due for redelivery. */
  readonly visibilityTimeoutMs: number;
  /** `fixed`: base; `linear`: base × deliveries; `exponential`: base × 2^(deliveries-1), with full jitter. */
  readonly retryBackoff: RetryBackoff;
  readonly retryBaseMs: number;
  /** Cap on the backoff delay. */
  readonly retryMaxMs: number;
  /** Deliveries after which an unacknowledged entry moves to the group's dead letters. */
  readonly maxDeliveries: number;
  /** How often a subscriber looks for new and due entries when it has not been woken. */
  readonly pollMs: number;
  /** Outbox entries older than this are trimmed (reported by GetFeedStats). */
  readonly retentionHours: number;
}

/** PEM contents, read at start from the TLS_* files. */
export interface TlsConfig {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Clients must present a certificate signed by this CA (mTLS). */
  readonly clientCa: Buffer | undefined;
}

/** Reads a file named in the environment; injectable so tests need no files. */
export type FileReader = (path: string) => Buffer;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

const RETRY_BACKOFFS: readonly string[] = ["fixed", "linear", "exponential"];

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Reads and validates the configuration, listing every problem at once.
 * Takes the environment as an argument (and the files it names through
 * `readFile`) and returns a frozen object.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, readFile: FileReader = readFileSync): Config {
  const problems: string[] = [];
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === "") {
      return fallback;
    }
    if (raw !== "true" && raw !== "false") {
      problems.push(`${name} must be true or false, got "${raw}"`);
      return fallback;
    }
    return raw === "true";
  };
  const file = (name: string): Buffer | undefined => {
    const path = env[name];
    if (path === undefined || path === "") {
      return undefined;
    }
    try {
      return readFile(path);
    } catch (err) {
      problems.push(`${name}: cannot read "${path}" (${(err as { code?: string }).code ?? "error"})`);
      return undefined;
    }
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") {
      return fallback;
    }
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };

  /** A percentage from 0 to 100, decimals allowed ("0.5"). */
  const percent = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") {
      return fallback;
    }
    const value = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || value > 100) {
      problems.push(`${name} must be a percentage from 0 to 100, got "${raw}"`);
      return fallback;
    }
    return value;
  };

  const port = int("PORT", 8080, 0, 65535);
  const connectPort = int("CONNECT_PORT", 8081, 0, 65535);
  if (port === connectPort && port !== 0) {
    problems.push(`PORT and CONNECT_PORT must differ, both are ${port}`);
  }
  const redisUrl = env["REDIS_URL"] || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    problems.push(`REDIS_URL must start with redis:// or rediss://, got "${redisUrl.replace(/\/\/[^@]*@/, "//***@")}"`);
  }
  const redisClusterNodes = readClusterNodes(env["REDIS_CLUSTER_NODES"], problems);
  if (redisClusterNodes !== undefined && redisUrl !== undefined) {
    problems.push("REDIS_URL and REDIS_CLUSTER_NODES are both set; use one");
  }
  const logLevel = env["LOG_LEVEL"] || "info";
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  }
  const redisKeyPrefix = env["REDIS_KEY_PREFIX"] ?? "bo:";
  if (!/^[A-Za-z0-9._:-]{0,32}$/.test(redisKeyPrefix)) {
    problems.push(`REDIS_KEY_PREFIX may hold at most 32 of [A-Za-z0-9._:-], got "${redisKeyPrefix}"`);
  }
  const watchIntervalMs = int("WATCH_INTERVAL_MS", 250, 20, 10_000);
  const watchRetryGraceMs = int("WATCH_RETRY_GRACE_MS", 10_000, 0, 600_000);
  const watchCadence: WatchCadence = Object.freeze({
    exactWithin: int("WATCH_EXACT_WITHIN", 1_000, 0, 2_147_483_647),
    farMinChange: percent("WATCH_FAR_MIN_CHANGE_PERCENT", 1) / 100,
    farIntervalMs: int("WATCH_FAR_INTERVAL_MS", 2_000, 0, 600_000),
  });
  const sweepIntervalMs = int("SWEEP_INTERVAL_MS", 1000, 50, 60_000);
  const shutdownGraceMs = int("SHUTDOWN_GRACE_MS", 10_000, 0, 600_000);
  const admitIntervalMs = int("ADMIT_INTERVAL_MS", 250, 0, 999);
  const retryBackoff = env["FEED_RETRY_BACKOFF"] || "exponential";
  if (!RETRY_BACKOFFS.includes(retryBackoff)) {
    problems.push(`FEED_RETRY_BACKOFF must be one of ${RETRY_BACKOFFS.join(", ")}, got "${retryBackoff}"`);
  }
  const feed: FeedConfig = Object.freeze({
    visibilityTimeoutMs: int("FEED_VISIBILITY_TIMEOUT_MS", 30_000, 100, 86_400_000),
    retryBackoff: retryBackoff as RetryBackoff,
    retryBaseMs: int("FEED_RETRY_BASE_MS", 1_000, 0, 3_600_000),
    retryMaxMs: int("FEED_RETRY_MAX_MS", 60_000, 0, 86_400_000),
    maxDeliveries: int("FEED_MAX_DELIVERIES", 5, 1, 1_000),
    pollMs: int("FEED_POLL_MS", 100, 10, 60_000),
    retentionHours: int("FEED_RETENTION_HOURS", 24, 1, 8_760),
  });
  if (feed.retryMaxMs < feed.retryBaseMs) {
    problems.push(`FEED_RETRY_MAX_MS (${feed.retryMaxMs}) must not be below FEED_RETRY_BASE_MS (${feed.retryBaseMs})`);
  }
  const redisCommandTimeoutMs = int("REDIS_COMMAND_TIMEOUT_MS", 1000, 50, 60_000);
  const redisHealthIntervalMs = int("REDIS_HEALTH_INTERVAL_MS", 500, 50, 60_000);
  const redisWait: ReplicaWaitConfig = Object.freeze({
    replicas: int("REDIS_WAIT_REPLICAS", 0, 0, 16),
    timeoutMs: int("REDIS_WAIT_TIMEOUT_MS", 500, 1, 60_000),
  });
  const keepaliveTimeMs = int("KEEPALIVE_TIME_MS", 30_000, 0, 86_400_000);
  const keepaliveTimeoutMs = int("KEEPALIVE_TIMEOUT_MS", 10_000, 1, 600_000);
  const maxConcurrentStreams = int("MAX_CONCURRENT_STREAMS", 1_000, 1, 2_147_483_647);
  const maxReceiveMessageBytes = int("MAX_RECEIVE_MESSAGE_BYTES", 4 * 1024 * 1024, 1_024, 1_073_741_824);
  const maxSendMessageBytes = int("MAX_SEND_MESSAGE_BYTES", 16 * 1024 * 1024, 1_024, 1_073_741_824);
  const defaultDeadlineMs = int("DEFAULT_DEADLINE_MS", 60_000, 0, 86_400_000);
  const maxOpenStreams = int("MAX_OPEN_STREAMS", 100_000, 1, 10_000_000);
  const passSpec = env["PASS_KEYS"];
  const passKeysGenerated = passSpec === undefined || passSpec === "";
  const parsed = parsePassKeys(passKeysGenerated ? `dev:base64:${randomBytes(32).toString("base64")}` : passSpec);
  if ("problems" in parsed) {
    problems.push(...parsed.problems.map((p) => `PASS_KEYS: ${p}`));
  }
  const production = env["NODE_ENV"] === "production";
  const authTokens = readTokens(env, file, problems);
  const authOpenReflection = flag("AUTH_OPEN_REFLECTION", true);
  const logCalls = flag("LOG_CALLS", false);
  const tls = readTls(env, file, problems);
  if (production) {
    if (authTokens === undefined && !env["AUTH_TOKENS_FILE"]) {
      problems.push("NODE_ENV=production needs AUTH_TOKENS or AUTH_TOKENS_FILE: callers must authenticate");
    }
    if (passKeysGenerated) {
      problems.push("NODE_ENV=production needs PASS_KEYS: passes must verify on every instance and backend");
    }
    if (redisUrl === undefined && redisClusterNodes === undefined) {
      problems.push("NODE_ENV=production needs REDIS_URL: there is no private redis-server in production");
    }
  }
  const traces = readTracesConfig(env, problems);
  const cors = parseCorsOrigins(env["CORS_ORIGINS"]);
  if ("problems" in cors) {
    problems.push(...cors.problems);
  }
  const host = env["HOST"] || "127.0.0.1";
  const metrics = readMetrics(env, int, host, problems);
  if (metrics !== undefined && metrics.port !== 0 && (metrics.port === port || metrics.port === connectPort)) {
    problems.push(`METRICS_PORT must differ from PORT and CONNECT_PORT, got ${metrics.port}`);
  }
  if (problems.length > 0 || !("keys" in parsed) || !("origins" in cors)) {
    throw new ConfigError(problems);
  }
  const config: Config = {
    port,
    connectPort,
    host,
    redisUrl,
    redisKeyPrefix,
    logLevel,
    watchIntervalMs,
    watchRetryGraceMs,
    watchCadence,
    sweepIntervalMs,
    shutdownGraceMs,
    admitIntervalMs,
    feedRetentionMs: feed.retentionHours * 3_600_000,
    passKeys: parsed.keys,
    passKeysGenerated,
    feed,
    production,
    authTokens,
    authOpenReflection,
    logCalls,
    tls,
    redisCommandTimeoutMs,
    redisHealthIntervalMs,
    redisWait,
    corsOrigins: cors.origins,
    metrics,
    redisClusterNodes,
    keepaliveTimeMs,
    keepaliveTimeoutMs,
    maxConcurrentStreams,
    maxReceiveMessageBytes,
    maxSendMessageBytes,
    defaultDeadlineMs,
    maxOpenStreams,
    traces,
  };
  return Object.freeze(config);
}

/** METRICS_PORT=off turns the endpoint (and every metric) off; otherwise the METRICS_* settings. */
function readMetrics(
  env: Readonly<Record<string, string | undefined>>,
  int: (name: string, fallback: number, min: number, max: number) => number,
  host: string,
  problems: string[],
): MetricsConfig | undefined {
  const raw = env["METRICS_PORT"];
  if (raw === "off") {
    return undefined;
  }
  if (raw !== undefined && raw !== "" && !(/^\d+$/.test(raw) && Number(raw) <= 65535)) {
    problems.push(`METRICS_PORT must be a port from 0 to 65535 or "off", got "${raw}"`);
  }
  return Object.freeze({
    port: raw === undefined || raw === "" || !/^\d+$/.test(raw) || Number(raw) > 65535 ? 9464 : Number(raw),
    host: env["METRICS_HOST"] || host,
    refreshMs: int("METRICS_REFRESH_MS", 5_000, 100, 3_600_000),
    maxEvents: int("METRICS_EVENTS_MAX", 100, 1, 10_000),
  });
}

/** REDIS_CLUSTER_NODES as `host:port,host:port`; undefined when unset or empty. */
function readClusterNodes(spec: string | undefined, problems: string[]): readonly ClusterNode[] | undefined {
  if (spec === undefined || spec.trim() === "") {
    return undefined;
  }
  const parsed = parseClusterNodes(spec);
  if ("problems" in parsed) {
    problems.push(...parsed.problems);
    return undefined;
  }
  return Object.freeze(parsed.nodes.map((node) => Object.freeze(node)));
}

/** AUTH_TOKENS or AUTH_TOKENS_FILE (not both), in the format of `parseTokens`. */
function readTokens(
  env: Readonly<Record<string, string | undefined>>,
  file: (name: string) => Buffer | undefined,
  problems: string[],
): readonly TokenEntry[] | undefined {
  const inline = env["AUTH_TOKENS"] || undefined;
  if (inline !== undefined && env["AUTH_TOKENS_FILE"]) {
    problems.push("AUTH_TOKENS and AUTH_TOKENS_FILE are both set; use one");
    return undefined;
  }
  const [spec, source] = inline !== undefined ? [inline, "AUTH_TOKENS"] : [file("AUTH_TOKENS_FILE")?.toString("utf8"), "AUTH_TOKENS_FILE"];
  if (spec === undefined) {
    return undefined;
  }
  const parsed = parseTokens(spec, source);
  if ("problems" in parsed) {
    problems.push(...parsed.problems);
    return undefined;
  }
  return Object.freeze(parsed.entries.map((e) => Object.freeze(e)));
}

/** TLS_CERT and TLS_KEY together, TLS_CLIENT_CA only with them. */
function readTls(
  env: Readonly<Record<string, string | undefined>>,
  file: (name: string) => Buffer | undefined,
  problems: string[],
): TlsConfig | undefined {
  const cert = file("TLS_CERT");
  const key = file("TLS_KEY");
  const clientCa = file("TLS_CLIENT_CA");
  const named = (name: string): boolean => Boolean(env[name]);
  if (named("TLS_CERT") !== named("TLS_KEY")) {
    problems.push("TLS_CERT and TLS_KEY must be set together");
  }
  if (named("TLS_CLIENT_CA") && !(named("TLS_CERT") && named("TLS_KEY"))) {
    problems.push("TLS_CLIENT_CA (mutual TLS) needs TLS_CERT and TLS_KEY");
  }
  if (cert === undefined || key === undefined) {
    return undefined;
  }
  try {
    // Parses the PEMs and checks that the key belongs to the certificate, so a mistake stops the start here.
    createSecureContext({ cert, key, ca: clientCa });
  } catch (err) {
    problems.push(`TLS_CERT / TLS_KEY / TLS_CLIENT_CA: ${(err as Error).message}`);
    return undefined;
  }
  return Object.freeze({ cert, key, clientCa });
}
