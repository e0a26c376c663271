import { once } from "node:events";
import type { Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { REPLICA_WAIT_CONNECTIONS, ServerWaitConnections } from "../../src/redis/wait-connections.js";
import { createRedisClient } from "../../src/redis/redis-client.js";
import { SeatStore } from "../../src/seats/seat-store.js";
import { startReplicatedRedis, type ReplicatedRedis } from "../support/replicated-redis.js";
import { uniqueId } from "../support/redis.js";

/** SeatStore.confirm with `confirmWait`, on a primary and replica of the test's own. */

let redis: ReplicatedRedis;
let shared: Redis;
let waiting: ServerWaitConnections;
let store: SeatStore;

beforeAll(async () => {
  redis = await startReplicatedRedis();
  const logger = pino({ level: "silent" });
  shared = createRedisClient(redis.primaryUrl, { commandTimeoutMs: 10_000, logger });
  waiting = new ServerWaitConnections(redis.primaryUrl, { commandTimeoutMs: 10_000, waitTimeoutMs: 300, logger });
  await Promise.all([shared.connect(), waiting.connect()]);
  store = new SeatStore(shared, { keyPrefix: "cw:", confirmWait: { connections: waiting, policy: { replicas: 1, timeoutMs: 300 } } });
});

afterAll(async () => {
  [shared, ...(waiting?.clients ?? [])].forEach((r) => r?.disconnect());
  await redis?.stop();
});

async function waitCalls(): Promise<number> {
  const stats = await redis.primary.info("commandstats");
  return Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

it("sends the sales that queue behind a WAIT together under one WAIT: with the replica paused, two timeouts answer any number", async () => {
  const eventId = uniqueId();
  const sales = 6 * REPLICA_WAIT_CONNECTIONS;
  await store.loadSeatMap(eventId, { sections: [], tiers: [{ tierId: "floor", capacity: sales }] });
  const holds: string[] = [];
  for (let i = 0; i < sales; i++) {
    const result = await store.hold(eventId, `u${i}`, `h${i}`, { kind: "general_admission", tier: "floor", quantity: 1 });
    expect(result.kind).toBe("held");
    holds.push(`h${i}`);
  }

  const before = await waitCalls();
  redis.pauseReplica();
  let paused;
  let waits;
  try {
    // All in one tick: one sale per idle connection, the rest queued behind them.
    paused = await Promise.all(holds.map((holdId, i) => store.confirm(eventId, holdId, `u${i}`, `o${i}`)));
    waits = (await waitCalls()) - before;
  } finally {
    await redis.resumeReplica();
  }
  expect(paused.map((r) => r.kind)).toEqual(holds.map(() => "not_replicated"));
  expect(paused[0]).toEqual({ kind: "not_replicated", acked: 0, required: 1 });
  // One WAIT per connection for the first sales, one per connection for everything queued meanwhile.
  expect(waits).toBe(2 * REPLICA_WAIT_CONNECTIONS);

  const retried = await Promise.all(holds.map((holdId, i) => store.confirm(eventId, holdId, `u${i}`, `o${i}`)));
  expect(retried.map((r) => r.kind)).toEqual(holds.map(() => "already_confirmed"));
  const availability = await store.availability(eventId);
  expect(availability.kind === "availability" && availability.availability.event).toMatchObject({ capacity: sales, sold: sales, held: 0 });
});

it("passes over a waiting connection that dropped while the others are up, and uses it again once it is back", async () => {
  const eventId = uniqueId();
  await store.loadSeatMap(eventId, { sections: [], tiers: [{ tierId: "floor", capacity: 2 }] });
  for (const i of [0, 1]) {
    expect((await store.hold(eventId, `u${i}`, `h${i}`, { kind: "general_admission", tier: "floor", quantity: 1 })).kind).toBe("held");
  }
  // The first connection, the one an idle store would pick, goes down and is being made again.
  const [first] = waiting.clients as [Redis, ...Redis[]];
  const closed = once(first, "close");
  first.disconnect(true);
  await closed;
  expect(first.status).not.toBe("ready");
  const sold = await store.confirm(eventId, "h0", "u0", "o0");
  expect(sold).toMatchObject({ kind: "confirmed", hold: { orderId: "o0" } });

  await once(first, "ready");
  const id = String(await first.client("ID"));
  expect(await lastCommand(id)).toBe("client|id");
  expect(await store.confirm(eventId, "h1", "u1", "o1")).toMatchObject({ kind: "confirmed", hold: { orderId: "o1" } });
  // Back up and idle, it is the first choice again: it carried the sale and its WAIT.
  expect(await lastCommand(id)).toBe("wait");
});

/** The last command the primary ran for client `id` (CLIENT LIST's `cmd`). */
async function lastCommand(id: string): Promise<string | undefined> {
  const line = (await redis.primary.client("LIST", "ID", id)) as string;
  return / cmd=(\S+)/.exec(line)?.[1];
}
