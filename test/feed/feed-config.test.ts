import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("change feed configuration", () => {
  it("takes the documented defaults", () => {
    expect(loadConfig({}).feed).toEqual({
      visibilityTimeoutMs: 30_000,
      retryBackoff: "exponential",
      retryBaseMs: 1_000,
      retryMaxMs: 60_000,
      maxDeliveries: 5,
      pollMs: 100,
      retentionHours: 24,
    });
  });

  it("reads every variable", () => {
    const feed = loadConfig({
      FEED_VISIBILITY_TIMEOUT_MS: "5000",
      FEED_RETRY_BACKOFF: "linear",
      FEED_RETRY_BASE_MS: "200",
      FEED_RETRY_MAX_MS: "2000",
      FEED_MAX_DELIVERIES: "9",
      FEED_POLL_MS: "50",
      FEED_RETENTION_HOURS: "72",
    }).feed;
    expect(feed).toEqual({ visibilityTimeoutMs: 5000, retryBackoff: "linear", retryBaseMs: 200, retryMaxMs: 2000, maxDeliveries: 9, pollMs: 50, retentionHours: 72 });
  });

  it("lists every problem at once", () => {
    let error: unknown;
    try {
      loadConfig({ FEED_RETRY_BACKOFF: "random", FEED_MAX_DELIVERIES: "0", FEED_RETRY_BASE_MS: "5000", FEED_RETRY_MAX_MS: "100" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.split(" ")[0])).toEqual(["FEED_RETRY_BACKOFF", "FEED_MAX_DELIVERIES", "FEED_RETRY_MAX_MS"]);
  });
});
