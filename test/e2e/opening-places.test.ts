import { expect, it, onTestFinished } from "vitest";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { QueueService, QueueState, type WatchPositionResponse } from "../../gen/boxoffice/v1/queue_pb.js";
import { OpeningPhase } from "../../src/redis/outcomes.js";
import type { RpcObserver } from "../../src/observe/rpc-observer.js";
import { pull } from "../support/outage.js";
import { uniqueId } from "../support/redis.js";
import { startServer } from "./server.js";

/**
 * The opening of a sale with a pre-queue watched over a real port: after the
 * shuffle every watcher hears its new place once, exactly right, and the
 * service sends those places head of the line first. The order is observed
 * where the service hands each message to its transport (the call observer's
 * `sent`, the hook the metrics use), each stream named by a request header.
 * More watchers than one tick script call reads (1,000), so the pre-queue is
 * read again in several batches.
 */

const WATCHERS = 2_200;

it("tells every pre-queue watcher its exact new place once, in line order, head first", async () => {
  /** User of each message the service sent on a WatchPosition stream, in sending order. */
  const sent: string[] = [];
  const observer: RpcObserver = {
    forMethod(method) {
      if (method.method !== "WatchPosition") return undefined;
      return {
        start(ctx) {
          const user = ctx?.requestHeader.get("x-watcher") ?? "";
          return { sent: () => sent.push(user), end: () => undefined };
        },
      };
    },
  };
  const server = await startServer({ MAX_CONCURRENT_STREAMS: String(WATCHERS + 100) }, { rpcObserver: observer });
  onTestFinished(() => server.stop());
  const queue = server.client(QueueService);
  const eventId = uniqueId();
  await queue.configureQueue({ eventId, state: QueueState.PAUSED, opensAt: timestampFromMs(Date.now() + 3_600_000) });
  const users = Array.from({ length: WATCHERS }, (_, i) => `u${i}`);
  for (let i = 0; i < users.length; i += 250) {
    await Promise.all(users.slice(i, i + 250).map((userId) => queue.join({ eventId, userId })));
  }
  // Every stream on the server's one gRPC connection.
  const streams = users.map((userId) => pull(queue.watchPosition({ eventId, userId }, { headers: { "x-watcher": userId }, timeoutMs: 120_000 })));
  const first = await Promise.all(streams.map((s) => s.next()));
  expect(new Set(first.map((m) => m.ticket?.position))).toEqual(new Set([0]));
  const before = sent.length;

  // The sale opens; PAUSED, so nobody is admitted and every place holds still once given.
  await queue.configureQueue({ eventId, clearOpensAt: true });
  let step = await server.app.store.admit(eventId);
  while (step.kind === "admission" && step.opening !== OpeningPhase.SHUFFLED) step = await server.app.store.admit(eventId);
  expect(step).toMatchObject({ kind: "admission", admitted: 0 });

  const places: WatchPositionResponse[] = await Promise.all(streams.map((s) => s.next()));
  const placeOf = new Map(users.map((userId, i) => [userId, places[i]?.ticket?.position ?? -1]));
  // Exactly the line's places, each the one Redis gives.
  expect([...placeOf.values()].sort((a, b) => a - b)).toEqual(users.map((_, i) => i + 1));
  for (let i = 0; i < users.length; i += 250) {
    const chunk = users.slice(i, i + 250);
    const truth = await Promise.all(chunk.map((userId) => queue.getPosition({ eventId, userId })));
    expect(truth.map((r) => r.ticket?.position)).toEqual(chunk.map((userId) => placeOf.get(userId)));
  }
  // One message each since the opening, sent head of the line first.
  const order = sent.slice(before);
  expect(order.length).toBe(WATCHERS);
  const sentPlaces = order.map((userId) => placeOf.get(userId));
  expect(sentPlaces).toEqual(users.map((_, i) => i + 1));
});
