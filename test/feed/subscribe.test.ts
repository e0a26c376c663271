import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ChangeFeedService, SubscribeStart } from "../../gen/boxoffice/v1/feed_pb.js";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { uniqueId } from "../support/redis.js";
import type { RunningServer } from "../e2e/server.js";
import { appendJoins, startFeedServer, Subscriber, type FeedClient } from "./support.js";

let server: RunningServer;
let feed: FeedClient;
beforeAll(async () => {
  server = await startFeedServer();
  feed = server.client(ChangeFeedService);
});
afterAll(async () => {
  await server?.stop();
});

function subscribe(request: ConstructorParameters<typeof Subscriber>[1]): Subscriber {
  const sub = new Subscriber(feed, request);
  onTestFinished(() => sub.cancel());
  return sub;
}

describe("Subscribe", () => {
  it("delivers the event's changes made through the API, in order, decoded", async () => {
    const eventId = uniqueId();
    const queue = server.client(QueueService);
    await queue.configureQueue({ eventId });
    const sub = subscribe({ eventId, group: "billing", consumer: "c1", start: SubscribeStart.BEGINNING });
    await queue.join({ eventId, userId: "alice" });
    await queue.leave({ eventId, userId: "alice" });
    const events = await sub.take(2);
    expect(events.map((e) => [e.type, e.deliveryCount, e.eventId])).toEqual([
      ["queue.joined", 1, eventId],
      ["queue.left", 1, eventId],
    ]);
    expect(events[0]?.payload).toMatchObject({ case: "queueJoined", value: { userId: "alice", seq: 1n } });
    expect(Number(events[0]?.time?.seconds)).toBe(Math.floor(Number(events[0]?.id.split("-")[0]) / 1000));
  });
});
