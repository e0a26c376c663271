import { randomBytes } from "node:crypto";
import { parsePassKeys, type PassKeyring } from "./pass/pass.js";
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
  /** Pause between sweeps of idle waiters over all events. */
  readonly sweepIntervalMs: number;
  /** How long shutdown waits for in-flight calls before closing connections. */
  readonly shutdownGraceMs: number;
  /** Pause between admitter ticks; 0 = this instance runs no admitter. */
  readonly admitIntervalMs: number;
  /** Admission pass keys: the first signs, all verify. */
  readonly passKeys: PassKeyring;
  /** Browser origins allowed to call the Connect port (CORS); empty = none, "*" = any. */
  readonly corsOrigins: CorsOrigins;
  /** True when PASS_KEYS was unset and a random key was made for this process (development only). */
  readonly passKeysGenerated: boolean;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Reads and validates the configuration, listing every problem at once.
 * Pure: takes the environment as an argument and returns a frozen object.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const problems: string[] = [];
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

  const port = int("PORT", 8080, 0, 65535);
  const connectPort = int("CONNECT_PORT", 8081, 0, 65535);
  if (port === connectPort && port !== 0) {
    problems.push(`PORT and CONNECT_PORT must differ, both are ${port}`);
  }
  const redisUrl = env["REDIS_URL"] || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    problems.push(`REDIS_URL must start with redis:// or rediss://, got "${redisUrl.replace(/\/\/[^@]*@/, "//***@")}"`);
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
  const sweepIntervalMs = int("SWEEP_INTERVAL_MS", 1000, 50, 60_000);
  const shutdownGraceMs = int("SHUTDOWN_GRACE_MS", 10_000, 0, 600_000);
  const admitIntervalMs = int("ADMIT_INTERVAL_MS", 250, 0, 999);
  const passSpec = env["PASS_KEYS"];
  const passKeysGenerated = passSpec === undefined || passSpec === "";
  const parsed = parsePassKeys(passKeysGenerated ? `dev:base64:${randomBytes(32).toString("base64")}` : passSpec);
  if ("problems" in parsed) {
    problems.push(...parsed.problems.map((p) => `PASS_KEYS: ${p}`));
  }
  const cors = parseCorsOrigins(env["CORS_ORIGINS"]);
  if ("problems" in cors) {
    problems.push(...cors.problems);
  }
  if (problems.length > 0 || !("keys" in parsed) || !("origins" in cors)) {
    throw new ConfigError(problems);
  }
  const config: Config = {
    port,
    connectPort,
    host: env["HOST"] || "127.0.0.1",
    redisUrl,
    redisKeyPrefix,
    logLevel,
    watchIntervalMs,
    sweepIntervalMs,
    shutdownGraceMs,
    admitIntervalMs,
    passKeys: parsed.keys,
    passKeysGenerated,
    corsOrigins: cors.origins,
  };
  return Object.freeze(config);
}
