import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ChangeFeedService, SubscribeStart, consume, type ChangeEvent, type FeedClientChoice } from "../../src/client/index.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "../e2e/server.js";
import { appendJoins, logKey, pendingOf, startFeedServer, type FeedClient } from "./support.js";

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

async function waitUntil(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs consume() until the test ends (or the test stops it itself). */
function consuming(options: Omit<Parameters<typeof consume>[0], "signal" | "client"> & { client?: FeedClientChoice }) {
  const controller = new AbortController();
  const done = consume({ client: feed, signal: controller.signal, start: SubscribeStart.BEGINNING, ...options });
  const stop = async () => {
    controller.abort();
    await done;
  };
  onTestFinished(stop);
  return { stop, done };
}

describe("consume()", () => {
  it("acknowledges what the handler processed", async () => {
    const eventId = uniqueId();
    const ids = await appendJoins(server, eventId, 30);
    const seen: string[] = [];
    const { stop } = consuming({ eventId, group: "g", consumer: "c", concurrency: 4, handler: (e) => void seen.push(e.id) });
    await waitUntil(async () => (await feed.getFeedStats({ eventId })).groups[0]?.ackedTotal === 30n);
    await stop();
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(await pendingOf(server.redis, logKey(server, eventId), "g")).toBe(0);
  });

  it("leaves failures unacknowledged, so they come back with a growing count and end among the dead letters", async () => {
    const eventId = uniqueId();
    const [bad, good] = await appendJoins(server, eventId, 2);
    const attempts: ChangeEvent[] = [];
    const errors: unknown[] = [];
    consuming({
      eventId,
      group: "g",
      consumer: "c",
      handler: (e) => {
        if (e.id !== bad) return;
        attempts.push(e);
        throw new Error("cannot process");
      },
      onError: (error) => errors.push(error),
    });
    for (const count of [1, 2, 3]) {
      await waitUntil(() => attempts.length === count);
      server.advance(VISIBILITY_MS);
    }
    await waitUntil(async () => (await feed.listDeadLetters({ eventId, group: "g" })).total === 1n);
    expect(attempts.map((e) => e.deliveryCount)).toEqual([1, 2, 3]);
    const [letter] = (await feed.listDeadLetters({ eventId, group: "g" })).deadLetters;
    expect(letter).toMatchObject({ reason: "max_deliveries", deliveryCount: 3, lastConsumer: "c", event: { id: bad } });
    expect(errors).toHaveLength(3);
    const stats = (await feed.getFeedStats({ eventId })).groups[0];
    expect(stats).toMatchObject({ pending: 0n, ackedTotal: 1n, deliveredTotal: 4n, deadLetters: 1n });
    expect(good).toBeDefined();
  });

  it("stops cleanly: the running handler finishes and its ack is sent before it resolves", async () => {
    const eventId = uniqueId();
    await appendJoins(server, eventId, 1);
    let release!: () => void;
    const started = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const { stop } = consuming({
      eventId,
      group: "g",
      consumer: "c",
      handler: async () => {
        release();
        await gate;
      },
    });
    await started;
    const stopped = stop();
    finish();
    await stopped;
    expect(await pendingOf(server.redis, logKey(server, eventId), "g")).toBe(0);
  });
});

describe("consume() across a server restart", () => {
  it("reconnects to the new server on the same port and goes on, acknowledging everything", async () => {
    const prefix = `t${uniqueId("r").slice(-12)}:`;
    const first = await startServer({ REDIS_KEY_PREFIX: prefix, FEED_POLL_MS: "20" });
    const port = first.grpcPort;
    let current: RunningServer | undefined = first;
    onTestFinished(async () => {
      await current?.stop();
    });
    const client = createClient(ChangeFeedService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    const eventId = uniqueId();
    const before = await appendJoins(first, eventId, 5);
    const seen = new Set<string>();
    const errors: unknown[] = [];
    const { stop } = consuming({
      client,
      eventId,
      group: "g",
      consumer: "c",
      handler: (e) => void seen.add(e.id),
      onError: (error) => errors.push(error),
      backoff: { initialMs: 10, maxMs: 100 },
    });
    await waitUntil(async () => (await client.getFeedStats({ eventId })).groups[0]?.ackedTotal === 5n);

    await first.stop();
    current = undefined;
    current = await startServer({ REDIS_KEY_PREFIX: prefix, FEED_POLL_MS: "20", PORT: String(port) });
    const after = await appendJoins(current, eventId, 5, 6);
    await waitUntil(() => after.every((id) => seen.has(id)));
    await waitUntil(async () => (await client.getFeedStats({ eventId })).groups[0]?.pending === 0n);
    await stop();

    expect([...seen].sort()).toEqual([...before, ...after].sort());
    // The old server ended the stream with UNAVAILABLE; that is what made the helper reconnect.
    expect(errors.some((e) => e instanceof ConnectError && e.code === Code.Unavailable)).toBe(true);
  });

  it("asks a client factory for the next instance after a broken stream, and acknowledges through it", async () => {
    const prefix = `t${uniqueId("f").slice(-12)}:`;
    const env = { REDIS_KEY_PREFIX: prefix, FEED_POLL_MS: "20" };
    const [one, two] = await Promise.all([startServer(env), startServer(env)]);
    onTestFinished(async () => {
      await Promise.all([one.stop(), two.stop()]);
    });
    const clients = [one.client(ChangeFeedService), two.client(ChangeFeedService)];
    const asked: number[] = [];
    const eventId = uniqueId();
    const before = await appendJoins(one, eventId, 3);
    const seen = new Set<string>();
    const { stop } = consuming({
      client: (connection) => {
        asked.push(connection);
        return clients[Math.min(connection, 1)]!;
      },
      eventId,
      group: "g",
      consumer: "c",
      handler: (e) => void seen.add(e.id),
      backoff: { initialMs: 10, maxMs: 100 },
    });
    await waitUntil(async () => (await clients[1]!.getFeedStats({ eventId })).groups[0]?.ackedTotal === 3n);

    await one.stop();
    const after = await appendJoins(two, eventId, 3, 4);
    await waitUntil(async () => (await clients[1]!.getFeedStats({ eventId })).groups[0]?.ackedTotal === 6n);
    await stop();
    expect([...seen].sort()).toEqual([...before, ...after].sort());
    expect(asked.slice(0, 2)).toEqual([0, 1]);
  });
});
