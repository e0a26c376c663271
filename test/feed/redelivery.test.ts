import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ChangeFeedService, SubscribeStart } from "../../gen/boxoffice/v1/feed_pb.js";
import { feedKeys } from "../../src/feed/keys.js";
import { uniqueId } from "../support/redis.js";
import type { RunningServer } from "../e2e/server.js";
import { appendJoins, logKey, pendingOf, startFeedServer, Subscriber, type FeedClient } from "./support.js";

const VISIBILITY_MS = 10_000;
let server: RunningServer;
let feed: FeedClient;
beforeAll(async () => {
  server = await startFeedServer({ FEED_VISIBILITY_TIMEOUT_MS: String(VISIBILITY_MS), FEED_MAX_DELIVERIES: "3" });
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

/** Moves the feed's clock past the visibility timeout (no backoff in this file). */
function timeOut(): void {
  server.advance(VISIBILITY_MS);
}

describe("redelivery", () => {
  it("gives entries a dead consumer never acknowledged to another consumer once they time out", async () => {
    const eventId = uniqueId();
    const ids = await appendJoins(server, eventId, 3);
    const dying = subscribe({ eventId, group: "g", consumer: "dying", start: SubscribeStart.BEGINNING });
    expect((await dying.take(3)).map((e) => e.deliveryCount)).toEqual([1, 1, 1]);
    await dying.cancel();
    // The server notices the cancellation; until then the dying stream could still take its entries back.
    await waitUntil(() => server.app.feed.subscriptions.active === 0);
    const heir = subscribe({ eventId, group: "g", consumer: "heir" });
    timeOut();
    const again = await heir.take(3);
    expect(again.map((e) => [e.id, e.deliveryCount])).toEqual(ids.map((id) => [id, 2]));
    expect((await feed.ack({ eventId, group: "g", ids })).acknowledged).toBe(3);
    expect(await pendingOf(server.redis, logKey(server, eventId), "g")).toBe(0);
  });

  it("does not hand an entry still within its visibility timeout to another consumer", async () => {
    const eventId = uniqueId();
    const [id] = await appendJoins(server, eventId, 1);
    const holder = subscribe({ eventId, group: "g", consumer: "holder", start: SubscribeStart.BEGINNING });
    await holder.take(1);
    const other = subscribe({ eventId, group: "g", consumer: "other" });
    const later = await appendJoins(server, eventId, 1, 2);
    // Whoever gets the new entry, the one the holder still has goes to nobody else.
    await waitUntil(() => holder.received.length + other.received.length >= 2);
    const all = [...holder.received, ...other.received].map((e) => e.id);
    expect(all.filter((x) => x === id)).toHaveLength(1);
    expect(all).toContain(later[0]);
  });

  it("moves an entry delivered max_deliveries times to the dead letters, then replays it to its group only", async () => {
    const eventId = uniqueId();
    const [id] = await appendJoins(server, eventId, 1);
    const bystander = subscribe({ eventId, group: "audit", consumer: "a", start: SubscribeStart.BEGINNING });
    const failing = subscribe({ eventId, group: "billing", consumer: "c1", start: SubscribeStart.BEGINNING });
    expect((await failing.take(1))[0]?.deliveryCount).toBe(1);
    await bystander.take(1);
    await feed.ack({ eventId, group: "audit", ids: [id as string] });
    timeOut();
    expect((await failing.take(1))[0]).toMatchObject({ id, deliveryCount: 2 });
    timeOut();
    expect((await failing.take(1))[0]).toMatchObject({ id, deliveryCount: 3 });
    timeOut();
    const page = await waitForDeadLetters(eventId, "billing", 1);
    expect(page.total).toBe(1n);
    const [letter] = page.deadLetters;
    expect(letter).toMatchObject({ reason: "max_deliveries", deliveryCount: 3, lastConsumer: "c1" });
    expect(letter?.event).toMatchObject({ id, type: "queue.joined", deliveryCount: 3, payload: { case: "queueJoined", value: { userId: "u1" } } });
    expect(await pendingOf(server.redis, logKey(server, eventId), "billing")).toBe(0);

    const replayed = await feed.replayDeadLetters({ eventId, group: "billing", ids: [letter?.id as string] });
    expect(replayed.replayed).toBe(1);
    const [again] = await failing.take(1);
    expect(again).toMatchObject({ replayedFromId: id, deliveryCount: 1, type: "queue.joined", payload: { case: "queueJoined" } });
    expect(again?.id).toMatch(/^0-\d+$/);
    expect(again?.time).toEqual(letter?.event?.time);
    expect((await feed.replayDeadLetters({ eventId, group: "billing", ids: [letter?.id as string] })).replayed).toBe(0);
    expect((await feed.ack({ eventId, group: "billing", ids: [again?.id as string] })).acknowledged).toBe(1);

    // The other group never sees it again: nothing was added to what it reads.
    const audit = feedKeys(server.app.config.redisKeyPrefix, eventId, "audit");
    expect(await server.redis.xlen(audit.replay)).toBe(0);
    expect(await server.redis.xlen(audit.log)).toBe(1);
    expect(bystander.received.map((e) => e.id)).toEqual([id]);
    const stats = await feed.getFeedStats({ eventId });
    expect(stats.groups.find((g) => g.group === "billing")).toMatchObject({ pending: 0n, deadLetters: 0n, lag: 0n });
  });

  it("counts pending entries that retention removed before anyone acknowledged them", async () => {
    const eventId = uniqueId();
    await appendJoins(server, eventId, 3);
    const sub = subscribe({ eventId, group: "g", consumer: "c", start: SubscribeStart.BEGINNING });
    await sub.take(3);
    await server.redis.xtrim(logKey(server, eventId), "MAXLEN", 0);
    timeOut();
    for (;;) {
      const stats = await feed.getFeedStats({ eventId });
      const group = stats.groups[0];
      if (group?.pending === 0n) {
        expect(group).toMatchObject({ trimmedWhilePending: 3n, deliveredTotal: 3n, ackedTotal: 0n, deadLetters: 0n });
        expect(stats.length).toBe(0n);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(sub.received).toHaveLength(3);
  });
});

async function waitUntil(check: () => boolean): Promise<void> {
  while (!check()) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function waitForDeadLetters(eventId: string, group: string, count: number) {
  for (;;) {
    const page = await feed.listDeadLetters({ eventId, group });
    if (page.deadLetters.length >= count) return page;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
