import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ChangeFeedService, SubscribeStart } from "../../gen/boxoffice/v1/feed_pb.js";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { redisUrl, uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "../e2e/server.js";
import { Subscriber, type FeedClient } from "./support.js";

/**
 * Subscribers learn of appends from the scripts' notifications, through the
 * process's outbox reader: with a poll of a minute (the longest allowed) and
 * a test timeout of 30 s, only a notification can deliver what follows. The
 * app's Redis client is made as the service makes it (`createRedisClient`:
 * no offline queue, lazy connection), whose options its subscriber inherits.
 */
let server: RunningServer;
let feed: FeedClient;
beforeAll(async () => {
  server = await startServer({ FEED_POLL_MS: "60000" }, { redisUrl: redisUrl() });
  feed = server.client(ChangeFeedService);
});
afterAll(async () => {
  await server?.stop();
});

function subscribe(eventId: string, group: string, consumer: string): Subscriber {
  const sub = new Subscriber(feed, { eventId, group, consumer, start: SubscribeStart.BEGINNING });
  onTestFinished(() => sub.cancel());
  return sub;
}

describe("Subscribe, woken by the outbox notifications", () => {
  it("delivers each change made while the subscriber waits, without waiting for the poll", async () => {
    const eventId = uniqueId();
    const queue = server.client(QueueService);
    await queue.configureQueue({ eventId });
    const sub = subscribe(eventId, "billing", "c1");
    expect((await sub.take(1)).map((e) => e.type)).toEqual(["queue.configured"]);
    for (const userId of ["alice", "bob", "carol"]) {
      await queue.join({ eventId, userId });
      const [joined] = await sub.take(1);
      expect(joined?.payload).toMatchObject({ case: "queueJoined", value: { userId } });
    }
    await queue.leave({ eventId, userId: "bob" });
    expect((await sub.take(1)).map((e) => e.type)).toEqual(["queue.left"]);
  });

  it("wakes the subscribers of every group, on each event that changed", async () => {
    const [one, two] = [uniqueId(), uniqueId()];
    const queue = server.client(QueueService);
    await Promise.all([queue.configureQueue({ eventId: one }), queue.configureQueue({ eventId: two })]);
    const subs = [subscribe(one, "a", "c"), subscribe(one, "b", "c"), subscribe(two, "a", "c")];
    await Promise.all(subs.map((s) => s.take(1)));
    await queue.join({ eventId: two, userId: "u2" });
    await queue.join({ eventId: one, userId: "u1" });
    const taken = await Promise.all(subs.map((s) => s.take(1)));
    expect(taken.map(([e]) => [e?.eventId, e?.type])).toEqual([
      [one, "queue.joined"],
      [one, "queue.joined"],
      [two, "queue.joined"],
    ]);
  });
});
