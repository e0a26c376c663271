import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeFeedService } from "../../gen/boxoffice/v1/feed_pb.js";
import { QueueService, QueueState } from "../../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { startServer, type RunningServer } from "../e2e/server.js";
import { startOwnRedis, type OwnRedis } from "../support/own-redis.js";
import { uniqueId } from "../support/redis.js";
import { scrape, type Scrape } from "./prom-text.js";

const seatMap = (eventId: string) => ({
  eventId,
  sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["a1", "a2", "a3", "a4"] }] }],
});

describe("per-event metrics", () => {
  let server: RunningServer;
  beforeAll(async () => {
    // A refresh only when the test asks for one.
    server = await startServer({ METRICS_PORT: "0", METRICS_REFRESH_MS: "3600000" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("match the queue, seats, feed and watch streams as the RPCs report them, and drop an event once it ends", async () => {
    const queue = server.client(QueueService);
    const seats = server.client(SeatService);
    const feed = server.client(ChangeFeedService);
    const early = uniqueId();
    const open = uniqueId();
    await queue.configureQueue({ eventId: early, opensAt: timestampFromMs(Date.now() + 3_600_000) });
    await queue.configureQueue({ eventId: open, admitRatePerSec: 100, admitBurst: 2 });
    for (const userId of ["a", "b"]) await queue.join({ eventId: early, userId });
    for (const userId of ["a", "b", "c"]) await queue.join({ eventId: open, userId });
    expect(await server.app.store.admit(open)).toMatchObject({ kind: "admission", admitted: 2 });
    await seats.loadSeatMap(seatMap(open));
    await seats.holdSeats({ eventId: open, userId: "a", selection: { case: "seats", value: { seatIds: ["a1", "a2"] } } });
    expect(await server.app.feed.store.openGroup(open, "billing", { kind: "beginning" })).toMatchObject({ kind: "created" });

    const controller = new AbortController();
    const watch = queue.watchPosition({ eventId: open, userId: "c" }, { signal: controller.signal })[Symbol.asyncIterator]();
    try {
      expect((await watch.next()).done).toBe(false);
      // The first read of an event learns its feed groups; the second reads their progress.
      await server.app.metrics!.events.refresh();
      await server.app.metrics!.events.refresh();
      const metrics = await scrape(server.metricsUrl!);

      for (const eventId of [early, open]) {
        const stats = (await queue.getQueueStats({ eventId })).stats!;
        expect(metrics.value("boxoffice_queue_waiting", { event: eventId })).toBe(stats.waiting);
        expect(metrics.value("boxoffice_queue_pre_queue", { event: eventId })).toBe(stats.preQueue);
        expect(metrics.value("boxoffice_queue_active", { event: eventId })).toBe(stats.active);
        expect(metrics.value("boxoffice_queue_admitted_total", { event: eventId })).toBe(stats.admittedTotal);
      }
      expect(metrics.value("boxoffice_queue_pre_queue", { event: early })).toBe(2);
      expect(metrics.value("boxoffice_queue_active", { event: open })).toBe(2);

      const availability = (await seats.getAvailability({ eventId: open })).availability!.event!;
      expect(availability).toMatchObject({ capacity: 4, held: 2, sold: 0, available: 2 });
      expect(metrics.value("boxoffice_seats_capacity", { event: open })).toBe(availability.capacity);
      expect(metrics.value("boxoffice_seats_held", { event: open })).toBe(availability.held);
      expect(metrics.value("boxoffice_seats_sold", { event: open })).toBe(availability.sold);
      expect(metrics.value("boxoffice_seats_available", { event: open })).toBe(availability.available);
      expect(metrics.value("boxoffice_seat_holds", { event: open })).toBe(1);
      expect(metrics.value("boxoffice_seats_held", { event: early })).toBeUndefined();

      const group = (await feed.getFeedStats({ eventId: open })).groups.find((g) => g.group === "billing")!;
      expect(group.lag).toBeGreaterThan(0n);
      expect(metrics.value("boxoffice_feed_lag", { event: open, group: "billing" })).toBe(Number(group.lag));
      expect(metrics.value("boxoffice_feed_pending", { event: open, group: "billing" })).toBe(Number(group.pending));

      expect(metrics.value("boxoffice_watch_streams", { event: open, kind: "position" })).toBe(1);
      expect(metrics.value("boxoffice_watch_streams", { event: early, kind: "position" })).toBe(0);
      expect(metrics.value("boxoffice_watch_streams", { event: open, kind: "availability" })).toBe(0);
    } finally {
      controller.abort();
      await watch.return?.();
    }

    await queue.configureQueue({ eventId: early, state: QueueState.CLOSED });
    await server.app.metrics!.events.refresh();
    const after = await scrape(server.metricsUrl!);
    expect(after.find("boxoffice_queue_waiting", { event: early })).toEqual([]);
    expect(after.samples.filter((s) => s.labels["event"] === early)).toEqual([]);
    expect(after.value("boxoffice_queue_waiting", { event: open })).toBe(1);
  });
});

describe("the per-event refresh budget", () => {
  let own: OwnRedis;
  let server: RunningServer;
  beforeAll(async () => {
    own = await startOwnRedis();
    // Nothing else of the app's runs in the background while the commands are counted.
    server = await startServer(
      { METRICS_PORT: "0", METRICS_REFRESH_MS: "3600000", METRICS_EVENTS_MAX: "2", SWEEP_INTERVAL_MS: "60000", REDIS_HEALTH_INTERVAL_MS: "60000" },
      { redisUrl: own.url },
    );
  });
  afterAll(async () => {
    await server?.stop();
    await own?.stop();
  });

  it("follows at most METRICS_EVENTS_MAX events, reads at most one more per refresh, and never calls Redis on a scrape", async () => {
    const queue = server.client(QueueService);
    const events = Array.from({ length: 5 }, () => uniqueId());
    for (const eventId of events) await queue.configureQueue({ eventId });
    const refresh = () => server.app.metrics!.events.refresh();
    await refresh();
    expect(server.app.metrics!.events.events.size).toBe(2);

    const redis: Redis = server.redis;
    const scripts = (m: Scrape, script: string): number => m.sum("boxoffice_redis_script_seconds_count", { script });
    const before = await scrape(server.metricsUrl!);
    await redis.config("RESETSTAT");
    await refresh();
    await refresh();
    const refreshed = commandCalls(await redis.info("commandstats"));
    for (let i = 0; i < 3; i++) await scrape(server.metricsUrl!);
    // Scrapes read what the refreshes left: not one command more.
    expect(commandCalls(await redis.info("commandstats"))).toEqual(refreshed);

    // Per refresh, for each of the 2 followed events and 1 more in turn: the queue's stats script and
    // the feed's stream script (and, not counted here, two plain reads of the seat totals).
    expect((refreshed["fcall"] ?? 0) + (refreshed["fcall_ro"] ?? 0)).toBe(2 * 3 * 2);
    const metrics = await scrape(server.metricsUrl!);
    expect(scripts(metrics, "readQueueStats") - scripts(before, "readQueueStats")).toBe(2 * 3);
    expect(scripts(metrics, "readFeedStream") - scripts(before, "readFeedStream")).toBe(2 * 3);
    expect(metrics.value("boxoffice_metrics_events_followed")).toBe(2);
    expect(metrics.value("boxoffice_metrics_events_dropped_total")).toBe(2);
    expect(new Set(metrics.find("boxoffice_queue_waiting").map((s) => s.labels["event"])).size).toBe(2);
  });
});

/** Calls per command since the last CONFIG RESETSTAT, from INFO commandstats (INFO and CONFIG left out). */
function commandCalls(info: string): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([a-z_|]+):calls=(\d+)/gm)) {
    const name = match[1]!.split("|")[0]!;
    if (name !== "info" && name !== "config") calls[name] = (calls[name] ?? 0) + Number(match[2]);
  }
  return calls;
}
