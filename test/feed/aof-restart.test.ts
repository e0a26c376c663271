import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ChangeFeedService, SubscribeStart } from "../../gen/boxoffice/v1/feed_pb.js";
import { buildApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { eventLogKey } from "../../src/redis/event-log.js";
import { uniqueId } from "../support/redis.js";
import { DurableRedis } from "./aof-redis.js";
import { Subscriber, type FeedClient } from "./support.js";

const VISIBILITY_MS = 10_000;
let durable: DurableRedis;
let redis: Redis;
let app: App;
let feed: FeedClient;
let skew = 0;

beforeAll(async () => {
  durable = await DurableRedis.start();
  redis = new Redis(durable.url);
  // Refused connections while the server restarts are expected; ioredis reconnects.
  redis.on("error", () => undefined);
  const config = loadConfig({
    PORT: "0",
    CONNECT_PORT: "0",
    METRICS_PORT: "off",
    ADMIT_INTERVAL_MS: "0",
    SHUTDOWN_GRACE_MS: "2000",
    FEED_VISIBILITY_TIMEOUT_MS: String(VISIBILITY_MS),
    FEED_RETRY_BACKOFF: "fixed",
    FEED_RETRY_BASE_MS: "0",
    FEED_POLL_MS: "20",
  });
  app = buildApp({ config, redis, logger: pino({ level: "silent" }), clockSkewMs: () => skew });
  const { grpcPort } = await app.listen();
  feed = createClient(ChangeFeedService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` }));
});

afterAll(async () => {
  await app?.shutdown();
  redis?.disconnect();
  await durable?.stop();
});

it("loses no unacknowledged or undelivered entry across a Redis restart with appendfsync always", async () => {
  const eventId = uniqueId();
  const log = eventLogKey(app.config.redisKeyPrefix, eventId);
  const append = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await redis.xadd(log, "*", "type", "queue.left", "user", `u${i}`, "seq", String(i))) as string);
    return ids;
  };
  const delivered = await append(5);
  const first = new Subscriber(feed, { eventId, group: "g", consumer: "c1", start: SubscribeStart.BEGINNING });
  await first.take(5);
  expect((await feed.ack({ eventId, group: "g", ids: delivered.slice(0, 2) })).acknowledged).toBe(2);
  await first.cancel();
  while (app.feed.subscriptions.active > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const undelivered = await append(2);

  await durable.shutdown();
  await durable.boot();
  await redis.ping();

  const second = new Subscriber(feed, { eventId, group: "g", consumer: "c2" });
  // Never delivered: they come at once.
  expect((await second.take(2)).map((e) => [e.id, e.deliveryCount])).toEqual(undelivered.map((id) => [id, 1]));
  expect((await feed.ack({ eventId, group: "g", ids: undelivered })).acknowledged).toBe(2);
  // Delivered and not acknowledged: they come back once their visibility timeout has passed.
  skew += VISIBILITY_MS;
  expect((await second.take(3)).map((e) => [e.id, e.deliveryCount])).toEqual(delivered.slice(2).map((id) => [id, 2]));
  const stats = (await feed.getFeedStats({ eventId })).groups[0];
  expect(stats).toMatchObject({ deliveredTotal: 10n, ackedTotal: 4n, pending: 3n });
  await second.cancel();
});
