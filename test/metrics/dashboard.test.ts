import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeFeedService } from "../../gen/boxoffice/v1/feed_pb.js";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { startServer, type RunningServer } from "../e2e/server.js";
import { uniqueId } from "../support/redis.js";
import { scrape } from "./prom-text.js";

const DASHBOARD = new URL("../../deploy/grafana/boxoffice.json", import.meta.url);

interface Panel {
  readonly title?: string;
  readonly targets?: ReadonlyArray<{ readonly expr?: string }>;
  readonly panels?: readonly Panel[];
}

/** Every PromQL expression of the dashboard, nested rows included. */
function expressions(panels: readonly Panel[]): string[] {
  return panels.flatMap((p) => [...(p.targets ?? []).flatMap((t) => (t.expr === undefined ? [] : [t.expr])), ...expressions(p.panels ?? [])]);
}

/** Counters whose series appear with the first failure of their kind, which a healthy run does not have. */
const FAILURE_ONLY = new Set(["boxoffice_redis_script_errors_total"]);

const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"]);

/**
 * The metric names a PromQL expression reads: identifiers outside label
 * matchers, ranges, strings and grouping clauses that are not functions,
 * aggregations or keywords.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "")
    .replace(/(?<![a-zA-Z0-9_:.])\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi, "");
  const names = new Set<string>();
  for (const match of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const rest = bare.slice((match.index ?? 0) + word.length);
    if (/^\s*\(/.test(rest) || PROMQL_WORDS.has(word)) continue;
    names.add(word);
  }
  return [...names];
}

describe("the Grafana dashboard", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ METRICS_PORT: "0", METRICS_REFRESH_MS: "3600000" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("reads metric names from PromQL as expected", () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, script) (rate(boxoffice_redis_script_seconds_bucket{instance=~"$instance"}[$__rate_interval])))')).toEqual([
      "boxoffice_redis_script_seconds_bucket",
    ]);
    expect(metricNames('nodejs_eventloop_lag_p99_seconds{instance=~"$instance"} * 2.5e3')).toEqual(["nodejs_eventloop_lag_p99_seconds"]);
    expect(metricNames("sum by (transport) (a_total) - sum by (transport) (b_total) / clamp_min(c, 1e-9)")).toEqual(["a_total", "b_total", "c"]);
  });

  it("only uses metrics a running server exports", async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { uid: string; panels: Panel[] };
    expect(dashboard.uid).toBe("boxoffice");
    const exprs = expressions(dashboard.panels);
    expect(exprs.length).toBeGreaterThan(20);

    // A few real calls, so that every series exists: a success and a failure, a stream, seats, a feed group.
    const queue = server.client(QueueService, server.transports["grpc-port/grpc"]);
    const seats = server.client(SeatService, server.transports["connect-port/connect"]);
    const eventId = uniqueId();
    await queue.configureQueue({ eventId });
    await queue.join({ eventId, userId: "u" });
    await expect(queue.join({ eventId: uniqueId(), userId: "u" })).rejects.toThrow();
    await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["a1", "a2"] }] }] });
    await seats.holdSeats({ eventId, userId: "u", selection: { case: "seats", value: { seatIds: ["a1"] } } });
    await server.app.feed.store.openGroup(eventId, "audit", { kind: "beginning" });
    await server.client(ChangeFeedService).getFeedStats({ eventId });
    const controller = new AbortController();
    const watch = queue.watchPosition({ eventId, userId: "u" }, { signal: controller.signal })[Symbol.asyncIterator]();
    try {
      await watch.next();
      await server.app.metrics!.events.refresh();
      await server.app.metrics!.events.refresh();
      const response = await fetch(server.metricsUrl!);
      const text = await response.text();
      const exported = (await scrape(server.metricsUrl!)).names();
      const declared = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
      const referenced = [...new Set(exprs.flatMap(metricNames))];
      // Series that only a failure creates need only be declared; every other one must have samples.
      const missing = referenced.filter((name) => (FAILURE_ONLY.has(name) ? !declared.has(name) : !exported.has(name)));
      expect(missing).toEqual([]);
      expect(referenced.length).toBeGreaterThan(15);
    } finally {
      controller.abort();
      await watch.return?.();
    }
  });
});
