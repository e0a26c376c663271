import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("loadConfig", () => {
  it("takes the documented defaults and a random development pass key", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, connectPort: 8081, host: "127.0.0.1", redisUrl: undefined, redisKeyPrefix: "bo:" });
    expect(config).toMatchObject({ watchIntervalMs: 250, sweepIntervalMs: 1000, admitIntervalMs: 250, passKeysGenerated: true });
    expect(config.feedRetentionMs).toBe(24 * 3_600_000);
    expect(config.passKeys.kids).toEqual(["dev"]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("lists every problem at once and never echoes a secret", () => {
    const secret = "s3cr3t-value-that-is-too-short";
    let error: unknown;
    try {
      loadConfig({
        PORT: "http",
        CONNECT_PORT: "99999",
        WATCH_INTERVAL_MS: "5",
        REDIS_URL: "localhost:6379",
        LOG_LEVEL: "loud",
        FEED_RETENTION_HOURS: "0",
        PASS_KEYS: `k1:${secret}`,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.split(" ")[0])).toEqual(["PORT", "CONNECT_PORT", "REDIS_URL", "LOG_LEVEL", "WATCH_INTERVAL_MS", "FEED_RETENTION_HOURS", "PASS_KEYS:"]);
    expect((error as ConfigError).message).not.toContain(secret);
  });

  it("reads the WatchPosition cadence: every change within 1,000 places, further back 1% or 2 s; interval 0 turns it off", () => {
    expect(loadConfig({}).watchCadence).toEqual({ exactWithin: 1_000, farMinChange: 0.01, farIntervalMs: 2_000 });
    expect(
      loadConfig({ WATCH_EXACT_WITHIN: "50", WATCH_FAR_MIN_CHANGE_PERCENT: "0.5", WATCH_FAR_INTERVAL_MS: "0" }).watchCadence,
    ).toEqual({ exactWithin: 50, farMinChange: 0.005, farIntervalMs: 0 });
    let error: unknown;
    try {
      loadConfig({ WATCH_EXACT_WITHIN: "-1", WATCH_FAR_MIN_CHANGE_PERCENT: "101", WATCH_FAR_INTERVAL_MS: "2s" });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).problems.map((p) => p.split(" ")[0])).toEqual([
      "WATCH_EXACT_WITHIN",
      "WATCH_FAR_MIN_CHANGE_PERCENT",
      "WATCH_FAR_INTERVAL_MS",
    ]);
    expect(() => loadConfig({ WATCH_FAR_MIN_CHANGE_PERCENT: "1%" })).toThrow(/WATCH_FAR_MIN_CHANGE_PERCENT must be a percentage/);
  });

  it("reads rotated pass keys in order: the first signs", () => {
    const config = loadConfig({ PASS_KEYS: `new:${"n".repeat(32)},old:${"o".repeat(32)}`, ADMIT_INTERVAL_MS: "0" });
    expect(config.passKeys.kids).toEqual(["new", "old"]);
    expect(config.passKeys.signingKid).toBe("new");
    expect(config.admitIntervalMs).toBe(0);
    expect(loadConfig({ FEED_RETENTION_HOURS: "2" }).feedRetentionMs).toBe(7_200_000);
    expect(config.passKeysGenerated).toBe(false);
  });

  it("bounds Redis commands and paces the Redis health monitor", () => {
    expect(loadConfig({})).toMatchObject({ redisCommandTimeoutMs: 1000, redisHealthIntervalMs: 500 });
    expect(loadConfig({ REDIS_COMMAND_TIMEOUT_MS: "250", REDIS_HEALTH_INTERVAL_MS: "100" })).toMatchObject({
      redisCommandTimeoutMs: 250,
      redisHealthIntervalMs: 100,
    });
    let error: unknown;
    try {
      loadConfig({ REDIS_COMMAND_TIMEOUT_MS: "0", REDIS_HEALTH_INTERVAL_MS: "soon" });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).problems.map((p) => p.split(" ")[0])).toEqual(["REDIS_COMMAND_TIMEOUT_MS", "REDIS_HEALTH_INTERVAL_MS"]);
  });

  it("waits for no replica unless told to, and reads how many and how long", () => {
    expect(loadConfig({}).redisWait).toEqual({ replicas: 0, timeoutMs: 500 });
    expect(loadConfig({ REDIS_WAIT_REPLICAS: "2", REDIS_WAIT_TIMEOUT_MS: "1500" }).redisWait).toEqual({ replicas: 2, timeoutMs: 1500 });
    let error: unknown;
    try {
      loadConfig({ REDIS_WAIT_REPLICAS: "-1", REDIS_WAIT_TIMEOUT_MS: "0" });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).problems.map((p) => p.split(" ")[0])).toEqual(["REDIS_WAIT_REPLICAS", "REDIS_WAIT_TIMEOUT_MS"]);
  });

  it("reads the connection and call limits, listing every bad one", () => {
    expect(loadConfig({})).toMatchObject({
      keepaliveTimeMs: 30_000,
      keepaliveTimeoutMs: 10_000,
      maxConcurrentStreams: 1_000,
      maxReceiveMessageBytes: 4 * 1024 * 1024,
      maxSendMessageBytes: 16 * 1024 * 1024,
      defaultDeadlineMs: 60_000,
      maxOpenStreams: 100_000,
    });
    const env = {
      KEEPALIVE_TIME_MS: "0",
      KEEPALIVE_TIMEOUT_MS: "500",
      MAX_CONCURRENT_STREAMS: "64",
      MAX_RECEIVE_MESSAGE_BYTES: "65536",
      MAX_SEND_MESSAGE_BYTES: "131072",
      DEFAULT_DEADLINE_MS: "0",
      MAX_OPEN_STREAMS: "10",
    };
    expect(loadConfig(env)).toMatchObject({
      keepaliveTimeMs: 0,
      keepaliveTimeoutMs: 500,
      maxConcurrentStreams: 64,
      maxReceiveMessageBytes: 65_536,
      maxSendMessageBytes: 131_072,
      defaultDeadlineMs: 0,
      maxOpenStreams: 10,
    });
    let error: unknown;
    try {
      loadConfig({
        KEEPALIVE_TIME_MS: "-1",
        KEEPALIVE_TIMEOUT_MS: "0",
        MAX_CONCURRENT_STREAMS: "0",
        MAX_RECEIVE_MESSAGE_BYTES: "12",
        MAX_SEND_MESSAGE_BYTES: "4MB",
        DEFAULT_DEADLINE_MS: "1.5",
        MAX_OPEN_STREAMS: "0",
      });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).problems.map((p) => p.split(" ")[0])).toEqual([
      "KEEPALIVE_TIME_MS",
      "KEEPALIVE_TIMEOUT_MS",
      "MAX_CONCURRENT_STREAMS",
      "MAX_RECEIVE_MESSAGE_BYTES",
      "MAX_SEND_MESSAGE_BYTES",
      "DEFAULT_DEADLINE_MS",
      "MAX_OPEN_STREAMS",
    ]);
  });
});

describe("loadConfig: credentials, TLS and production", () => {
  const CLIENT = "client-token-0123456789";
  const ADMIN = "admin-token-0123456789";
  const noFiles = (path: string): Buffer => {
    throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
  };
  const problemsOf = (env: Record<string, string>, readFile = noFiles): string[] => {
    try {
      loadConfig(env, readFile);
    } catch (e) {
      if (e instanceof ConfigError) return [...e.problems];
      throw e;
    }
    return [];
  };

  it("runs in development mode without tokens, with reflection open and call lines at debug", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ production: false, authTokens: undefined, authOpenReflection: true, logCalls: false, tls: undefined });
  });

  it("reads AUTH_TOKENS, AUTH_OPEN_REFLECTION and LOG_CALLS", () => {
    const config = loadConfig({ AUTH_TOKENS: `client:${CLIENT},admin:${ADMIN}`, AUTH_OPEN_REFLECTION: "false", LOG_CALLS: "true" });
    expect(config.authTokens).toEqual([
      { role: "client", token: CLIENT },
      { role: "admin", token: ADMIN },
    ]);
    expect(config).toMatchObject({ authOpenReflection: false, logCalls: true });
  });

  it("reads AUTH_TOKENS_FILE, one or more entries per line", () => {
    const files = { "/etc/boxoffice/tokens": Buffer.from(`# rotated 2026-11\nclient:${CLIENT}\nadmin:${ADMIN}\n`) };
    const config = loadConfig({ AUTH_TOKENS_FILE: "/etc/boxoffice/tokens" }, (path) => files[path as keyof typeof files] ?? noFiles(path));
    expect(config.authTokens?.map((t) => t.role)).toEqual(["client", "admin"]);
  });

  it("production refuses to start without tokens, pass keys and REDIS_URL, naming all three at once", () => {
    expect(problemsOf({ NODE_ENV: "production" })).toEqual([
      "NODE_ENV=production needs AUTH_TOKENS or AUTH_TOKENS_FILE: callers must authenticate",
      "NODE_ENV=production needs PASS_KEYS: passes must verify on every instance and backend",
      "NODE_ENV=production needs REDIS_URL: there is no private redis-server in production",
    ]);
    const config = loadConfig({ NODE_ENV: "production", AUTH_TOKENS: `admin:${ADMIN}`, PASS_KEYS: `k1:${"k".repeat(32)}`, REDIS_URL: "redis://redis:6379" });
    expect(config.production).toBe(true);
  });

  it("lists token, flag, file and TLS problems together, never echoing a token", () => {
    const problems = problemsOf({
      AUTH_TOKENS: `client:${CLIENT},admin:${CLIENT},boss:${ADMIN}`,
      AUTH_OPEN_REFLECTION: "yes",
      LOG_CALLS: "1",
      TLS_CERT: "/missing/cert.pem",
      TLS_CLIENT_CA: "/missing/ca.pem",
    });
    expect(problems).toEqual([
      "AUTH_TOKENS entry 2 (admin): the same token is listed twice; every token must be unique",
      'AUTH_TOKENS entry 3 has role "boss"; roles are client, admin',
      'AUTH_OPEN_REFLECTION must be true or false, got "yes"',
      'LOG_CALLS must be true or false, got "1"',
      'TLS_CERT: cannot read "/missing/cert.pem" (ENOENT)',
      'TLS_CLIENT_CA: cannot read "/missing/ca.pem" (ENOENT)',
      "TLS_CERT and TLS_KEY must be set together",
      "TLS_CLIENT_CA (mutual TLS) needs TLS_CERT and TLS_KEY",
    ]);
    expect(problems.join("\n")).not.toContain(CLIENT);
  });

  it("refuses AUTH_TOKENS and AUTH_TOKENS_FILE together, and PEM files that do not parse", () => {
    const readFile = (): Buffer => Buffer.from("not a pem");
    expect(problemsOf({ AUTH_TOKENS: `admin:${ADMIN}`, AUTH_TOKENS_FILE: "/t", TLS_CERT: "/c", TLS_KEY: "/k" }, readFile)).toEqual([
      "AUTH_TOKENS and AUTH_TOKENS_FILE are both set; use one",
      expect.stringMatching(/^TLS_CERT \/ TLS_KEY \/ TLS_CLIENT_CA: /),
    ]);
  });
});
