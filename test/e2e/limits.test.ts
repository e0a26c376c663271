import { once } from "node:events";
import http2 from "node:http2";
import net from "node:net";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ChangeFeedService } from "../../gen/boxoffice/v1/feed_pb.js";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded-redis.js";
import { startOwnRedis, type OwnRedis } from "../support/own-redis.js";
import { uniqueId } from "../support/redis.js";
import { TRANSPORT_NAMES } from "./auth-support.js";
import { startServer, type RunningServer } from "./server.js";

/**
 * The limits of one process, over real ports: the cap on open streams, the
 * default deadline of unary calls, message sizes, the HTTP/2 stream limit
 * and keepalive finding dead watchers.
 */

/** An open server stream: its first message has arrived; `close` cancels it. */
interface OpenStream {
  readonly first: unknown;
  next(): Promise<IteratorResult<unknown>>;
  close(): void;
}

async function open(start: (signal: AbortSignal) => AsyncIterable<unknown>): Promise<OpenStream> {
  const controller = new AbortController();
  const it = start(controller.signal)[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done === true) throw new Error("stream ended before its first message");
  return { first: first.value, next: () => it.next(), close: () => controller.abort() };
}

function failureOf(err: unknown) {
  const error = ConnectError.from(err);
  const info = error.findDetails(ErrorInfoSchema)[0];
  return { code: error.code, reason: info?.reason, metadata: { ...info?.metadata }, retryInfo: error.findDetails(RetryInfoSchema)[0] };
}

async function refusal(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (err) {
    return failureOf(err);
  }
  throw new Error("expected the call to fail");
}

const venue = (eventId: string) => ({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A-1-1", "A-1-2"] }] }] });

describe("the cap on open streams (MAX_OPEN_STREAMS=3)", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ MAX_OPEN_STREAMS: "3" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("refuses the fourth stream on every port with TOO_MANY_STREAMS and a retry hint, keeps the open ones, and admits again once one closes", async () => {
    const queue = server.client(QueueService);
    const seats = server.client(SeatService, server.transports["connect-port/connect"]);
    const eventId = uniqueId();
    await queue.configureQueue({ eventId });
    await queue.join({ eventId, userId: "w" });
    await seats.loadSeatMap(venue(eventId));

    const streams = [
      await open((signal) => queue.watchPosition({ eventId, userId: "w" }, { signal })),
      await open((signal) => seats.watchAvailability({ eventId }, { signal })),
      await open((signal) => server.client(SeatService, server.transports["connect-port/grpc"]).watchAvailability({ eventId }, { signal })),
    ];
    expect(server.app.streams.open).toBe(3);

    for (const name of TRANSPORT_NAMES) {
      const transport = server.transports[name];
      for (const attempt of [
        () => open((signal) => createClient(QueueService, transport).watchPosition({ eventId, userId: "w" }, { signal })),
        () => open((signal) => createClient(SeatService, transport).watchAvailability({ eventId }, { signal })),
        () => open((signal) => createClient(ChangeFeedService, transport).subscribe({ eventId, group: "g", consumer: "c" }, { signal })),
      ]) {
        const refused = await refusal(attempt());
        expect(refused).toMatchObject({ code: Code.ResourceExhausted, reason: "TOO_MANY_STREAMS", metadata: { limit: "3" } });
        expect(refused.retryInfo?.retryDelay).toBeDefined();
      }
    }
    expect(server.app.streams.open).toBe(3);

    // The streams already open carry on: the watcher hears its own leave, and its stream ends.
    await queue.leave({ eventId, userId: "w" });
    const last = await streams[0]!.next();
    expect(last.done).toBe(false);
    expect(await streams[0]!.next()).toMatchObject({ done: true });
    await vi.waitFor(() => expect(server.app.streams.open).toBe(2));

    const again = await open((signal) => seats.watchAvailability({ eventId }, { signal }));
    expect(server.app.streams.open).toBe(3);
    streams[1]!.close();
    await vi.waitFor(() => expect(server.app.streams.open).toBe(2));
    const onceMore = await open((signal) => createClient(SeatService, server.transports["grpc-port/grpc"]).watchAvailability({ eventId }, { signal }));
    for (const stream of [streams[2]!, again, onceMore]) stream.close();
    await vi.waitFor(() => expect(server.app.streams.open).toBe(0));
  });
});

describe("the default deadline of unary calls (DEFAULT_DEADLINE_MS=300)", () => {
  let redis: OwnRedis;
  let server: RunningServer;
  beforeAll(async () => {
    redis = await startOwnRedis();
    // Commands and health pings wait long, so only the deadline can end a call on a Redis that does not answer.
    server = await startServer(
      { DEFAULT_DEADLINE_MS: "300", REDIS_COMMAND_TIMEOUT_MS: "60000", REDIS_HEALTH_INTERVAL_MS: "60000" },
      { redisUrl: redis.url },
    );
  });
  afterEach(() => {
    redis.thaw();
  });
  afterAll(async () => {
    redis?.thaw();
    await server?.stop();
    await redis?.stop();
  });

  it.each(TRANSPORT_NAMES)("a call without a deadline that Redis never answers ends DEADLINE_EXCEEDED on %s", async (name) => {
    const client = server.client(QueueService, server.transports[name]);
    const eventId = uniqueId();
    await client.configureQueue({ eventId });
    redis.freeze();
    expect(await refusal(client.getQueueStats({ eventId }))).toMatchObject({ code: Code.DeadlineExceeded });
  });
});

describe("message size limits (MAX_RECEIVE_MESSAGE_BYTES=2048, MAX_SEND_MESSAGE_BYTES=2048)", () => {
  let redis: EmbeddedRedis;
  let server: RunningServer;
  beforeAll(async () => {
    redis = await startEmbeddedRedis();
    server = await startServer({ MAX_RECEIVE_MESSAGE_BYTES: "2048", MAX_SEND_MESSAGE_BYTES: "2048" }, { redisUrl: redis.url });
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
  });

  it.each(TRANSPORT_NAMES)("a request over the limit is RESOURCE_EXHAUSTED on %s and writes nothing", async (name) => {
    const client = server.client(QueueService, server.transports[name]);
    const eventId = uniqueId();
    const before = await server.redis.dbsize();
    expect(await refusal(client.join({ eventId, userId: "u".repeat(3000) }))).toMatchObject({ code: Code.ResourceExhausted });
    expect(await server.redis.dbsize()).toBe(before);
    // The same call within the limit reaches the service (and its validation).
    expect(await refusal(client.join({ eventId, userId: "u".repeat(100) }))).toMatchObject({ code: Code.InvalidArgument });
  });

  it.each(TRANSPORT_NAMES)("a response over the limit fails RESOURCE_EXHAUSTED on %s", async (name) => {
    const client = server.client(SeatService, server.transports[name]);
    const eventId = uniqueId();
    const seatIds = Array.from({ length: 150 }, (_, i) => `S${i}`);
    await client.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds }] }] });
    // The counts alone fit; the section's 150 seat states do not.
    await client.getAvailability({ eventId });
    expect(await refusal(client.getAvailability({ eventId, sectionId: "A" }))).toMatchObject({ code: Code.ResourceExhausted });
  });
});

describe("connections (MAX_CONCURRENT_STREAMS=7, KEEPALIVE_TIME_MS=100, KEEPALIVE_TIMEOUT_MS=200)", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ MAX_CONCURRENT_STREAMS: "7", KEEPALIVE_TIME_MS: "100", KEEPALIVE_TIMEOUT_MS: "200" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ["gRPC port", () => server.grpcUrl],
    ["Connect port", () => server.connectUrl],
  ])("the %s announces its stream limit in its HTTP/2 SETTINGS", async (_name, url) => {
    const session = http2.connect(url());
    try {
      const [settings] = (await once(session, "remoteSettings")) as [http2.Settings];
      expect(settings.maxConcurrentStreams).toBe(7);
    } finally {
      session.destroy();
    }
  });

  it.each([
    ["gRPC port", () => server.grpcPort],
    ["Connect port", () => server.connectPort],
  ])("the %s finds a watcher whose connection went dead and ends its stream", async (_name, port) => {
    const proxy = await pausableProxy(port());
    const transport: Transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${proxy.port}` });
    try {
      const queue = server.client(QueueService);
      const eventId = uniqueId();
      await queue.configureQueue({ eventId });
      await queue.join({ eventId, userId: "w" });
      const before = server.app.streams.open;
      const stream = await open((signal) => createClient(QueueService, transport).watchPosition({ eventId, userId: "w" }, { signal }));
      expect(server.app.streams.open).toBe(before + 1);
      // The client's socket stays open but nothing passes any more: no PING is answered.
      proxy.pause();
      await vi.waitFor(() => expect(server.app.streams.open).toBe(before), { timeout: 10_000, interval: 20 });
      stream.close();
    } finally {
      proxy.close();
    }
  });
});

/**
 * A loopback TCP proxy to `port` that can go silent: after `pause()` it
 * forwards nothing either way and closes nothing, like a peer whose host
 * vanished.
 */
async function pausableProxy(port: number): Promise<{ port: number; pause(): void; close(): void }> {
  const pairs: Array<[net.Socket, net.Socket]> = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    client.on("error", () => {});
    upstream.on("error", () => {});
    client.pipe(upstream);
    upstream.pipe(client);
    pairs.push([client, upstream]);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    pause() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      server.close();
    },
  };
}
