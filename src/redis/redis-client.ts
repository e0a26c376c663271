import { Redis, type Cluster, type RedisOptions } from "ioredis";
import type { Logger } from "pino";

export interface RedisClientOptions {
  /**
   * Most time a command may wait for its reply. A Redis that is connected but
   * not answering (frozen, overloaded, partitioned) fails the command with
   * "Command timed out" after this long instead of holding the call.
   */
  readonly commandTimeoutMs: number;
  readonly logger: Logger;
}

/**
 * Command timeout of the connection LoadSeatMap uses: its one script writes a
 * whole venue (about 1.5 s per 100,000 seats), and failing it half-way through
 * the wait would only make its caller retry, and block Redis, again.
 */
export const LOAD_COMMAND_TIMEOUT_MS = 60_000;

/**
 * How long a connection attempt may take. Connecting to a Redis that is
 * gone is refused at once; this bounds an attempt to a host that drops
 * packets, which is then tried again.
 */
export const CONNECT_TIMEOUT_MS = 2_000;

/** Longest pause between two reconnection attempts. */
export const MAX_RECONNECT_DELAY_MS = 200;

/**
 * Pause before reconnection attempt `attempt` (1, 2, …): 50 ms more per
 * attempt, at most `MAX_RECONNECT_DELAY_MS`. A refused connection costs next
 * to nothing, so the client keeps trying often and is back within a fraction
 * of a second of Redis returning, however long it was gone.
 */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(50 * attempt, MAX_RECONNECT_DELAY_MS);
}

/**
 * The ioredis options every Boxoffice connection uses. Together they make a
 * command fail fast and run at most once:
 *
 * - `enableOfflineQueue: false`: while disconnected, a command fails at once
 *   ("Stream isn't writeable") instead of waiting in a queue for a Redis that
 *   may not come back within the caller's deadline; such a command never
 *   reached Redis.
 * - `commandTimeout`: a command written to a Redis that does not answer fails
 *   after that long. Its outcome is unknown: Redis may still run it when it
 *   resumes (a frozen process runs everything it had received).
 * - `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands: false`:
 *   commands in flight when a connection drops fail, and none is written
 *   again after reconnecting: no command is ever sent twice, and a call that
 *   already failed is not replayed behind its caller's back.
 * - `retryStrategy`: reconnect quickly and forever (`reconnectDelayMs`).
 * - `connectTimeout`: `CONNECT_TIMEOUT_MS`.
 *
 * Blocking reads (XREADGROUP BLOCK and the like) must not share this
 * `commandTimeout`: give them their own connection with a longer one.
 */
export function redisClientOptions(commandTimeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelayMs,
    connectTimeout: CONNECT_TIMEOUT_MS,
  };
}

/**
 * A client for `url` (or for a node given by its ioredis options: host, port,
 * credentials), not yet connected: call `connect()` and await it before
 * serving (with the offline queue off, commands sent earlier fail). Connection
 * errors are logged once per distinct failure, not once per reconnection
 * attempt, and a recovery is logged once.
 */
export function createRedisClient(target: string | RedisOptions, { commandTimeoutMs, logger }: RedisClientOptions): Redis {
  const redis =
    typeof target === "string"
      ? new Redis(target, redisClientOptions(commandTimeoutMs))
      : new Redis({ ...target, ...redisClientOptions(commandTimeoutMs) });
  let lastError = "";
  redis.on("error", (err: Error) => {
    if (err.message !== lastError) {
      lastError = err.message;
      logger.warn({ err }, "redis connection error");
    }
  });
  redis.on("ready", () => {
    if (lastError !== "") {
      lastError = "";
      logger.info("redis connection ready again");
    }
  });
  return redis;
}

/**
 * Closes a client for good: QUIT when connected, so replies still due arrive
 * first; otherwise (Redis gone or frozen, QUIT refused or timed out) the
 * connection and its reconnection attempts are simply dropped.
 */
export async function closeRedisClient(redis: Redis | Cluster): Promise<void> {
  if (redis.status === "ready") {
    try {
      await redis.quit();
      return;
    } catch {
      // Not answered: drop it below.
    }
  }
  redis.disconnect();
}
