import http2 from "node:http2";
import net from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueService, TicketState, WatchPositionRequestSchema, WatchPositionResponseSchema, type WatchPositionResponse } from "../../gen/boxoffice/v1/queue_pb.js";
import { uniqueId } from "../support/redis.js";
import { envelope } from "../support/raw-wire.js";
import { startServer, type RunningServer } from "./server.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ WATCH_INTERVAL_MS: "20" });
});
afterAll(async () => {
  await server?.stop();
});

/**
 * The HTTP/2 flow-control window the client grants each stream: room for a
 * few position messages (about 45 bytes each with their frame header), so a
 * client that stops reading stops the server's writes after a handful.
 */
const WINDOW_BYTES = 256;

/** Users ahead of the watcher who leave one by one: one position message each, for a client that reads. */
const AHEAD = 80;

/**
 * A TCP hop between a client and the gRPC port that can stop passing on
 * what the server sends (as a stalled network or a client that stopped
 * reading would): the client then neither reads the server's messages nor
 * grants the stream more window, so the server's writes back up.
 */
async function stallingHop(target: number) {
  const towardClient: net.Socket[] = [];
  let stalled = false;
  const hop = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => client.write(chunk));
    for (const socket of [client, upstream]) socket.on("error", () => {});
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    towardClient.push(upstream);
    if (stalled) upstream.pause();
  });
  await new Promise<void>((resolve) => hop.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(hop.address() as net.AddressInfo).port}`,
    stall(): void {
      stalled = true;
      for (const socket of towardClient) socket.pause();
    },
    flow(): void {
      stalled = false;
      for (const socket of towardClient) socket.resume();
    },
    close: () => new Promise<void>((resolve) => hop.close(() => resolve())),
  };
}

/** A WatchPosition stream over a bare HTTP/2 client granting `WINDOW_BYTES` of window, through a hop that can stall. */
async function rawWatch(eventId: string, userId: string) {
  const hop = await stallingHop(server.grpcPort);
  const session = http2.connect(hop.url, { settings: { initialWindowSize: WINDOW_BYTES } });
  session.on("error", () => {});
  const req = session.request({ ":method": "POST", ":path": "/boxoffice.v1.QueueService/WatchPosition", "content-type": "application/grpc", te: "trailers" });
  req.on("error", () => {});
  req.end(envelope(toBinary(WatchPositionRequestSchema, create(WatchPositionRequestSchema, { eventId, userId }))));
  let buffered = Buffer.alloc(0);
  const messages: WatchPositionResponse[] = [];
  let waiter: (() => void) | undefined;
  req.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt32BE(1)) {
      const length = buffered.readUInt32BE(1);
      messages.push(fromBinary(WatchPositionResponseSchema, buffered.subarray(5, 5 + length)));
      buffered = buffered.subarray(5 + length);
    }
    waiter?.();
  });
  const closed = new Promise<void>((resolve) => req.on("close", resolve));
  return {
    messages,
    /** Resolves once a message matching `test` has arrived (the hop passing everything on meanwhile). */
    until(test: (m: WatchPositionResponse) => boolean): Promise<WatchPositionResponse> {
      hop.flow();
      return new Promise((resolve) => {
        const look = (): void => {
          const found = messages.find(test);
          if (found) {
            waiter = undefined;
            resolve(found);
          } else {
            waiter = look;
          }
        };
        look();
      });
    },
    /** The client stops reading: nothing the server sends reaches it from now on. */
    stall: () => hop.stall(),
    cancel: () => req.close(http2.constants.NGHTTP2_CANCEL),
    closed,
    close: async () => {
      session.close();
      await hop.close();
    },
  };
}

/** Joins `AHEAD` users and then the watcher; the watcher starts at `AHEAD + 1`. */
async function lineUp(eventId: string): Promise<void> {
  const client = server.client(QueueService);
  await client.configureQueue({ eventId });
  for (let i = 0; i < AHEAD; i++) await client.join({ eventId, userId: `ahead-${i}` });
  await client.join({ eventId, userId: "me" });
}

/** Everyone ahead leaves, one at a time, each seen by a tick of the event's watch loop (and so pushed to the watcher). */
async function everyoneAheadLeaves(eventId: string): Promise<void> {
  const client = server.client(QueueService);
  for (let i = 0; i < AHEAD; i++) {
    await client.leave({ eventId, userId: `ahead-${i}` });
    await server.app.hub.ticked(eventId);
  }
}

describe("WatchPosition on the gRPC port, to a client that stops reading", () => {
  it("holds only the newest position for it: when it reads again it gets what was in flight, then the newest, not every change", async () => {
    const eventId = uniqueId();
    await lineUp(eventId);
    const watch = await rawWatch(eventId, "me");
    await watch.until((m) => m.ticket?.position === AHEAD + 1);
    watch.stall();

    await everyoneAheadLeaves(eventId);
    // Reading again: the messages written before the server stopped, then the last position.
    const last = await watch.until((m) => m.ticket?.position === 1);
    expect(last.ticket).toMatchObject({ state: TicketState.WAITING, position: 1, waitingTotal: 1 });
    const positions = watch.messages.map((m) => m.ticket?.position ?? -1);
    // Each message newer than the one before, the newest last.
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
    expect(new Set(positions).size).toBe(positions.length);
    expect(positions.at(-1)).toBe(1);
    // What was in flight: the first position, what the window held, what grpc-js buffers
    // (16 messages) before `write` says it is full, and the newest. A server that queued a
    // message per change would have sent all AHEAD + 1.
    expect(positions.length).toBeLessThan(AHEAD / 2);

    // And the stream still works: the watcher leaves, the stream ends with LEFT.
    await server.client(QueueService).leave({ eventId, userId: "me" });
    const left = await watch.until((m) => m.ticket?.state === TicketState.LEFT);
    expect(left.ticket?.position).toBe(0);
    await watch.closed;
    await watch.close();
    await server.app.hub.stopped(eventId);
  });

  it("cleans up a stream its client cancels while the server waits for room to write", async () => {
    const eventId = uniqueId();
    await lineUp(eventId);
    const watch = await rawWatch(eventId, "me");
    await watch.until((m) => m.ticket?.position === AHEAD + 1);
    watch.stall();
    await everyoneAheadLeaves(eventId);
    expect(server.app.hub.streams(eventId)).toBe(1);
    const openBefore = server.app.streams.open;

    watch.cancel();
    await watch.closed;
    // The watcher left its loop (which then stopped) and gave back its place among the open streams.
    await server.app.hub.stopped(eventId);
    expect(server.app.hub.streams(eventId)).toBe(0);
    expect(server.app.streams.open).toBe(openBefore - 1);
    await watch.close();
  });
});
