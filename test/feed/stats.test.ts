import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ChangeFeedService, SubscribeStart } from "../../gen/boxoffice/v1/feed_pb.js";
import { uniqueId } from "../support/redis.js";
import type { RunningServer } from "../e2e/server.js";
import { appendJoins, startFeedServer, Subscriber, type FeedClient } from "./support.js";

let server: RunningServer;
let feed: FeedClient;
beforeAll(async () => {
  server = await startFeedServer({ FEED_RETENTION_HOURS: "48" });
  feed = server.client(ChangeFeedService);
});
afterAll(async () => {
  await server?.stop();
});

async function waitUntil(check: () => boolean): Promise<void> {
  while (!check()) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("GetFeedStats", () => {
  it("reports an event without a stream as empty", async () => {
    const stats = await feed.getFeedStats({ eventId: uniqueId() });
    expect(stats).toMatchObject({ length: 0n, firstId: "", lastId: "", groups: [] });
    expect(stats.retention?.seconds).toBe(48n * 3600n);
  });

  it("counts exactly what a scripted scenario did", async () => {
    const eventId = uniqueId();
    const ids = await appendJoins(server, eventId, 5);
    const sub = new Subscriber(feed, { eventId, group: "g", consumer: "c1", start: SubscribeStart.BEGINNING, maxInFlight: 4 });
    onTestFinished(() => sub.cancel());
    await sub.take(4);
    await feed.ack({ eventId, group: "g", ids: ids.slice(0, 2) });
    await sub.take(1);
    await sub.cancel();
    await waitUntil(() => server.app.feed.subscriptions.active === 0);
    await appendJoins(server, eventId, 2, 6);
    const idle = new Subscriber(feed, { eventId, group: "idle", consumer: "c", start: SubscribeStart.NOW });
    onTestFinished(() => idle.cancel());
    await waitUntil(() => server.app.feed.subscriptions.steps > 0 && server.app.feed.subscriptions.active === 1);

    const before = Date.now();
    const stats = await feed.getFeedStats({ eventId });
    const ageMs = Number(stats.groups[0]?.oldestPendingAge?.seconds ?? -1n) * 1000 + (stats.groups[0]?.oldestPendingAge?.nanos ?? 0) / 1e6;
    expect(stats).toMatchObject({ eventId, length: 7n, firstId: ids[0], lastId: expect.stringMatching(/^\d+-\d+$/) });
    expect(stats.groups.map((g) => g.group)).toEqual(["g", "idle"]);
    expect(stats.groups[0]).toMatchObject({
      group: "g",
      consumers: 1,
      pending: 3n,
      lag: 2n,
      lastDeliveredId: ids[4],
      deliveredTotal: 5n,
      ackedTotal: 2n,
      deadLetters: 0n,
      trimmedWhilePending: 0n,
    });
    // The oldest pending entry is the third: its age is measured from its id's time.
    const thirdMs = Number(ids[2]?.split("-")[0]);
    expect(ageMs).toBeGreaterThanOrEqual(before - thirdMs - 1000);
    expect(ageMs).toBeLessThanOrEqual(Date.now() - thirdMs + 1);
    expect(stats.groups[1]).toMatchObject({ group: "idle", pending: 0n, lag: 0n, deliveredTotal: 0n, ackedTotal: 0n });
    expect(stats.groups[1]?.oldestPendingAge).toBeUndefined();
  });
});
