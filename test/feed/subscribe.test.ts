import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ChangeFeedService, SubscribeStart, type FeedGroupStats, type SubscribeRequestSchema } from "../../gen/boxoffice/v1/feed_pb.js";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { uniqueId } from "../support/redis.js";
import type { RunningServer } from "../e2e/server.js";
import { appendJoins, logKey, pendingOf, startFeedServer, Subscriber, type FeedClient } from "./support.js";

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
    const events = await sub.take(3);
    expect(events.map((e) => [e.type, e.deliveryCount, e.eventId])).toEqual([
      ["queue.configured", 1, eventId],
      ["queue.joined", 1, eventId],
      ["queue.left", 1, eventId],
    ]);
    expect(events[0]?.payload).toMatchObject({ case: "queueConfigured", value: { created: true, config: { eventId } } });
    expect(events[1]?.payload).toMatchObject({ case: "queueJoined", value: { userId: "alice", seq: 1n } });
    expect(Number(events[1]?.time?.seconds)).toBe(Math.floor(Number(events[1]?.id.split("-")[0]) / 1000));
  });
});

describe("groups and consumers", () => {
  it("lets every group see every entry", async () => {
    const eventId = uniqueId();
    const a = subscribe({ eventId, group: "a", consumer: "c", start: SubscribeStart.BEGINNING });
    const b = subscribe({ eventId, group: "b", consumer: "c", start: SubscribeStart.BEGINNING });
    const ids = await appendJoins(server, eventId, 20);
    expect((await a.take(20)).map((e) => e.id)).toEqual(ids);
    expect((await b.take(20)).map((e) => e.id)).toEqual(ids);
  });

  it("splits a group's entries between its consumers, none delivered to both", async () => {
    const eventId = uniqueId();
    const ids = await appendJoins(server, eventId, 10);
    const one = subscribe({ eventId, group: "g", consumer: "one", start: SubscribeStart.BEGINNING, maxInFlight: 5 });
    const two = subscribe({ eventId, group: "g", consumer: "two", start: SubscribeStart.BEGINNING, maxInFlight: 5 });
    const got = [...(await one.take(5)), ...(await two.take(5))].map((e) => e.id);
    expect(got.sort()).toEqual([...ids].sort());
    expect(new Set(got).size).toBe(10);
  });

  it("starts a new group now, at the beginning, or after an id; an existing group keeps its place", async () => {
    const eventId = uniqueId();
    const ids = await appendJoins(server, eventId, 3);
    const after = subscribe({ eventId, group: "after", consumer: "c", start: SubscribeStart.AFTER_ID, startAfterId: ids[0] as string });
    expect((await after.take(2)).map((e) => e.id)).toEqual(ids.slice(1));
    const now = subscribe({ eventId, group: "now", consumer: "c" });
    await waitForGroup(eventId, "now");
    const existing = subscribe({ eventId, group: "now", consumer: "d", start: SubscribeStart.BEGINNING });
    const later = await appendJoins(server, eventId, 1, 4);
    await waitUntil(() => now.received.length + existing.received.length > 0);
    expect([...now.received, ...existing.received].map((e) => e.id)).toEqual(later);
  });

  it("works on an event that has had no change yet", async () => {
    const eventId = uniqueId();
    const sub = subscribe({ eventId, group: "early", consumer: "c" });
    const stats = await waitForGroup(eventId, "early");
    expect(stats.length).toBe(0n);
    const ids = await appendJoins(server, eventId, 2);
    expect((await sub.take(2)).map((e) => e.id)).toEqual(ids);
  });

  it("delivers only the types asked for and acknowledges the others for the group", async () => {
    const eventId = uniqueId();
    const key = logKey(server, eventId);
    await server.redis.xadd(key, "*", "type", "queue.left", "user", "u1", "seq", "1");
    const held = await server.redis.xadd(key, "*", "type", "seat.held", "hold", "h1", "user", "u1", "seats", "", "tier", "ga", "quantity", "2", "expires", "1");
    await server.redis.xadd(key, "*", "type", "queue.joined", "user", "u2", "seq", "2");
    const sub = subscribe({ eventId, group: "seats", consumer: "c", start: SubscribeStart.BEGINNING, types: ["seat.held"] });
    expect((await sub.take(1)).map((e) => [e.id, e.type])).toEqual([[held, "seat.held"]]);
    const stats = await waitForGroup(eventId, "seats", (g) => g.lag === 0n);
    expect(stats.groups[0]).toMatchObject({ pending: 1n, deliveredTotal: 1n });
  });
});

describe("Ack", () => {
  it("counts only entries pending for the group, so acking twice or acking unknown ids is harmless", async () => {
    const eventId = uniqueId();
    const ids = await appendJoins(server, eventId, 2);
    const sub = subscribe({ eventId, group: "g", consumer: "c", start: SubscribeStart.BEGINNING });
    await sub.take(2);
    expect((await feed.ack({ eventId, group: "g", ids: [ids[0] as string, ids[0] as string] })).acknowledged).toBe(1);
    expect((await feed.ack({ eventId, group: "g", ids })).acknowledged).toBe(1);
    expect((await feed.ack({ eventId, group: "g", ids })).acknowledged).toBe(0);
    expect((await feed.ack({ eventId, group: "other", ids: ["1-1"] })).acknowledged).toBe(0);
    expect((await feed.ack({ eventId: uniqueId(), group: "g", ids: ["1-1"] })).acknowledged).toBe(0);
  });

  it("refuses ids Redis could not read before reaching it", async () => {
    const err = await feed.ack({ eventId: uniqueId(), group: "g", ids: ["99999999999999999999-0"] }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("ids[0]");
  });
});

describe("flow control", () => {
  it("never hands a subscriber more than max_in_flight unacknowledged entries, however long the backlog", async () => {
    const eventId = uniqueId();
    const ids = await appendJoins(server, eventId, 10_000);
    const sub = subscribe({ eventId, group: "slow", consumer: "c", start: SubscribeStart.BEGINNING, maxInFlight: 50 });
    expect((await sub.take(50)).map((e) => e.id)).toEqual(ids.slice(0, 50));
    // Several more delivery steps run for it, and none reads anything.
    const steps = server.app.feed.subscriptions.steps;
    await waitUntil(() => server.app.feed.subscriptions.steps >= steps + 5);
    expect(await pendingOf(server.redis, logKey(server, eventId), "slow")).toBe(50);
    expect(sub.received).toHaveLength(50);
    // Acknowledging ten makes room for exactly ten more.
    await feed.ack({ eventId, group: "slow", ids: ids.slice(0, 10) });
    expect((await sub.take(10)).map((e) => e.id)).toEqual(ids.slice(50, 60));
    const again = server.app.feed.subscriptions.steps;
    await waitUntil(() => server.app.feed.subscriptions.steps >= again + 5);
    expect(sub.received).toHaveLength(60);
    expect(await pendingOf(server.redis, logKey(server, eventId), "slow")).toBe(50);
  });
});

async function waitForGroup(eventId: string, group: string, ready: (g: FeedGroupStats) => boolean = () => true) {
  for (;;) {
    const stats = await feed.getFeedStats({ eventId });
    const found = stats.groups.find((g) => g.group === group);
    if (found && ready(found)) return { ...stats, groups: [found] };
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Resolves once `check` holds, looking again on every turn of the event loop (the test timeout bounds it). */
async function waitUntil(check: () => boolean): Promise<void> {
  while (!check()) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("Subscribe requests", () => {
  it("are checked before anything reaches Redis", async () => {
    const eventId = uniqueId();
    const cases: Array<[MessageInitShape<typeof SubscribeRequestSchema>, string]> = [
      [{ eventId, group: "g", consumer: "c", startAfterId: "1-1" }, "start_after_id"],
      [{ eventId, group: "g", consumer: "c", start: SubscribeStart.AFTER_ID }, "start_after_id"],
      [{ eventId, group: "{g}", consumer: "c" }, "group"],
      [{ eventId, group: "g", consumer: "c", types: ["Queue Joined"] }, "types[0]"],
      [{ eventId, group: "g", consumer: "c", maxInFlight: 0 }, "max_in_flight"],
    ];
    for (const [request, field] of cases) {
      const err = await (async () => {
        for await (const _ of feed.subscribe(request)) return undefined;
      })().catch((e: unknown) => ConnectError.from(e));
      expect(err?.code, field).toBe(Code.InvalidArgument);
      expect(err?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual([field]);
    }
    expect(await server.redis.exists(logKey(server, eventId))).toBe(0);
  });
});

describe.each(["connect-port/grpc", "connect-port/connect", "connect-port/grpc-web"] as const)("Subscribe over %s", (name) => {
  it("streams and acknowledges like the gRPC port", async () => {
    const client = server.client(ChangeFeedService, server.transports[name]);
    const eventId = uniqueId();
    const ids = await appendJoins(server, eventId, 3);
    const sub = new Subscriber(client, { eventId, group: "g", consumer: "c", start: SubscribeStart.BEGINNING });
    onTestFinished(() => sub.cancel());
    expect((await sub.take(3)).map((e) => e.id)).toEqual(ids);
    expect((await client.ack({ eventId, group: "g", ids })).acknowledged).toBe(3);
  });
});

describe("shutdown", () => {
  it("ends open Subscribe streams with UNAVAILABLE", async () => {
    const other = await startFeedServer();
    onTestFinished(() => other.stop());
    const client = other.client(ChangeFeedService);
    const eventId = uniqueId();
    await appendJoins(other, eventId, 1);
    const sub = new Subscriber(client, { eventId, group: "g", consumer: "c", start: SubscribeStart.BEGINNING });
    await sub.take(1);
    await other.stop();
    const ended = await sub.ended;
    expect(ended).toBeInstanceOf(ConnectError);
    expect((ended as ConnectError).code).toBe(Code.Unavailable);
    expect(other.app.feed.subscriptions.active).toBe(0);
  });
});
