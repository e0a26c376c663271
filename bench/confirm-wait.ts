/**
 * `npx tsx bench/confirm-wait.ts`: what waiting for a replica costs a sale.
 *
 * Starts a private primary and replica (two redis-server processes), and the
 * app in this process over the primary, once without waiting
 * (REDIS_WAIT_REPLICAS=0) and once waiting for the replica (1). Measures
 * ConfirmHold over gRPC, one at a time (latency) and CONFIRM_CONCURRENCY at
 * once (throughput); then, waiting with the replica paused (SIGSTOP), how long
 * CONFIRM_PAUSED_SALES sales sent at once take to answer NOT_REPLICATED, and
 * what a GetAvailability on the shared connection takes meanwhile.
 *
 * With CONFIRM_CLUSTER=1: a local Redis Cluster of 3 primaries and 3
 * replicas instead (test/support/redis-cluster.ts), the app over it with
 * REDIS_CLUSTER_NODES, and the same two runs without and with waiting for
 * the replica of the event's shard (no paused run).
 *
 * Knobs: CONFIRM_COUNT (default 400), CONFIRM_CONCURRENCY (default 16),
 * CONFIRM_PAUSED_SALES (default 64), REDIS_WAIT_TIMEOUT_MS (default 200).
 */
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import pino from "pino";
import { SeatService } from "../gen/boxoffice/v1/seats_pb.js";
import { buildApp, type App } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { startEmbeddedRedis } from "../src/redis/embedded-redis.js";
import { closeRedisClient, createRedisClient } from "../src/redis/redis-client.js";
import { connectRedisCluster, createRedisCluster } from "../src/redis/redis-cluster.js";
import { ClusterWaitConnections, REPLICA_WAIT_CONNECTIONS, ServerWaitConnections } from "../src/redis/wait-connections.js";
import { startLocalCluster } from "../test/support/redis-cluster.js";

const COUNT = Number(process.env["CONFIRM_COUNT"] ?? 400);
const CONCURRENCY = Number(process.env["CONFIRM_CONCURRENCY"] ?? 16);
const WAIT_TIMEOUT_MS = Number(process.env["REDIS_WAIT_TIMEOUT_MS"] ?? 200);
const PAUSED_SALES = Number(process.env["CONFIRM_PAUSED_SALES"] ?? 64);
const ON_CLUSTER = process.env["CONFIRM_CLUSTER"] === "1";

type Seats = Client<typeof SeatService>;

async function main(): Promise<void> {
  if (ON_CLUSTER) {
    await onCluster();
    return;
  }
  const [primaryServer, replicaServer] = await Promise.all([startEmbeddedRedis(), startEmbeddedRedis()]);
  const primary = new Redis(primaryServer.url);
  try {
    await primary.config("SET", "repl-diskless-sync-delay", "0");
    const replica = new Redis(replicaServer.url);
    await replica.replicaof("127.0.0.1", primaryServer.port);
    replica.disconnect();
    await primary.set("bench:marker", "1");
    await primary.wait(1, 30_000);

    for (const replicas of [0, 1]) {
      const { app, seats, close } = await start(primaryServer.url, replicas);
      try {
        const one = await confirmRun(seats, COUNT, 1);
        const many = await confirmRun(seats, COUNT, CONCURRENCY);
        report(`REDIS_WAIT_REPLICAS=${replicas}`, one, many);
        if (replicas > 0) {
          process.kill(replicaServer.pid, "SIGSTOP");
          try {
            await pausedRun(seats);
          } finally {
            process.kill(replicaServer.pid, "SIGCONT");
          }
          await primary.wait(1, 30_000);
        }
      } finally {
        await app.shutdown();
        await close();
      }
    }
  } finally {
    primary.disconnect();
    await Promise.all([primaryServer.stop(), replicaServer.stop()]);
  }
}

async function start(url: string, replicas: number): Promise<{ app: App; seats: Seats; close: () => Promise<void> }> {
  const config = loadConfig({
    PORT: "0",
    CONNECT_PORT: "0",
    METRICS_PORT: "off",
    ADMIT_INTERVAL_MS: "0",
    REDIS_KEY_PREFIX: `bench${replicas}:`,
    REDIS_WAIT_REPLICAS: String(replicas),
    REDIS_WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS),
  });
  const logger = pino({ level: "silent" });
  const redis = createRedisClient(url, { commandTimeoutMs: config.redisCommandTimeoutMs, logger });
  const waitRedis =
    replicas > 0 ? new ServerWaitConnections(url, { commandTimeoutMs: config.redisCommandTimeoutMs, waitTimeoutMs: WAIT_TIMEOUT_MS, logger }) : undefined;
  await Promise.all([redis.connect(), waitRedis?.connect()]);
  const app = buildApp({ config, redis, waitRedis, logger });
  const { grpcPort } = await app.listen();
  const seats = createClient(SeatService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` }));
  return { app, seats, close: async () => [redis, ...(waitRedis?.clients ?? [])].forEach((r) => r.disconnect()) };
}

async function onCluster(): Promise<void> {
  const cluster = await startLocalCluster();
  try {
    for (const replicas of [0, 1]) {
      const { app, seats, close } = await startOnCluster(cluster.seeds, replicas);
      try {
        const one = await confirmRun(seats, COUNT, 1);
        const many = await confirmRun(seats, COUNT, CONCURRENCY);
        report(`cluster 3+3, REDIS_WAIT_REPLICAS=${replicas}`, one, many);
      } finally {
        await app.shutdown();
        await close();
      }
    }
  } finally {
    await cluster.stop();
  }
}

async function startOnCluster(seeds: string, replicas: number): Promise<{ app: App; seats: Seats; close: () => Promise<void> }> {
  const config = loadConfig({
    PORT: "0",
    CONNECT_PORT: "0",
    METRICS_PORT: "off",
    ADMIT_INTERVAL_MS: "0",
    REDIS_CLUSTER_NODES: seeds,
    REDIS_KEY_PREFIX: `bench${replicas}:`,
    REDIS_WAIT_REPLICAS: String(replicas),
    REDIS_WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS),
  });
  const logger = pino({ level: "silent" });
  const redis = createRedisCluster(config.redisClusterNodes ?? [], { commandTimeoutMs: config.redisCommandTimeoutMs, logger });
  await connectRedisCluster(redis);
  const waitRedis =
    replicas > 0 ? new ClusterWaitConnections(redis, { commandTimeoutMs: config.redisCommandTimeoutMs, waitTimeoutMs: WAIT_TIMEOUT_MS, logger }) : undefined;
  const app = buildApp({ config, redis, waitRedis, logger });
  const { grpcPort } = await app.listen();
  const seats = createClient(SeatService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` }));
  return {
    app,
    seats,
    close: async () => {
      await waitRedis?.close();
      await closeRedisClient(redis);
    },
  };
}

let events = 0;

/** A fresh event with `holds` general-admission holds of one place each, ready to confirm. */
async function holds(seats: Seats, count: number): Promise<{ eventId: string; holdIds: string[] }> {
  const eventId = `bench-${process.pid}-${++events}`;
  await seats.loadSeatMap({ eventId, tiers: [{ tierId: "floor", capacity: count }] });
  const holdIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const { hold } = await seats.holdSeats({ eventId, userId: `u${i}`, selection: { case: "generalAdmission", value: { tierId: "floor", quantity: 1 } } });
    holdIds.push(hold!.holdId);
  }
  return { eventId, holdIds };
}

interface Run {
  readonly latencies: number[];
  readonly perSecond: number;
}

async function confirmRun(seats: Seats, count: number, concurrency: number): Promise<Run> {
  const { eventId, holdIds } = await holds(seats, count);
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < holdIds.length) {
        const i = next++;
        const t = performance.now();
        await seats.confirmHold({ eventId, holdId: holdIds[i]!, userId: `u${i}`, orderId: `o${i}` });
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, perSecond: (count / (performance.now() - started)) * 1000 };
}

async function pausedRun(seats: Seats): Promise<void> {
  const { eventId, holdIds } = await holds(seats, PAUSED_SALES);
  const t = performance.now();
  const confirming = Promise.all(
    holdIds.map(async (holdId, i) => {
      try {
        await seats.confirmHold({ eventId, holdId, userId: `u${i}`, orderId: `o${i}` });
        return { ms: performance.now() - t, code: "OK" };
      } catch (error) {
        return { ms: performance.now() - t, code: Code[ConnectError.from(error).code] };
      }
    }),
  );
  // Once the sales are blocked in WAIT: a call on the shared connection.
  await new Promise((resolve) => setTimeout(resolve, WAIT_TIMEOUT_MS / 4));
  const a = performance.now();
  await seats.getAvailability({ eventId });
  const availabilityMs = performance.now() - a;
  const outcomes = await confirming;
  const ms = outcomes.map((o) => o.ms).sort((x, y) => x - y);
  console.log(
    `replica paused, ${PAUSED_SALES} sales at once on ${REPLICA_WAIT_CONNECTIONS} waiting connections (timeout ${WAIT_TIMEOUT_MS} ms): ` +
      `answers ${[...new Set(outcomes.map((o) => o.code))].join(",")} after ${fmt(ms[0]!)}..${fmt(ms[ms.length - 1]!)} ms; ` +
      `GetAvailability meanwhile ${fmt(availabilityMs)} ms`,
  );
}

function report(label: string, one: Run, many: Run): void {
  const q = (values: number[], p: number): number => [...values].sort((x, y) => x - y)[Math.min(values.length - 1, Math.floor(p * values.length))]!;
  console.log(
    `${label}: one at a time p50 ${fmt(q(one.latencies, 0.5))} ms p99 ${fmt(q(one.latencies, 0.99))} ms (${Math.round(one.perSecond)}/s); ` +
      `${CONCURRENCY} at once p50 ${fmt(q(many.latencies, 0.5))} ms p99 ${fmt(q(many.latencies, 0.99))} ms, ${Math.round(many.perSecond)} confirms/s`,
  );
}

function fmt(ms: number): string {
  return ms.toFixed(2);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
