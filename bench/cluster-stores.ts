/**
 * `npx tsx bench/cluster-stores.ts`: what the Redis Cluster client costs a
 * store call, against one redis-server.
 *
 * Runs Join (one script per call) from CLUSTER_CONCURRENCY callers over
 * CLUSTER_EVENTS events for CLUSTER_SECONDS, first on a private redis-server
 * with the single-node client (automatic pipelining), then on a local cluster
 * of 3 primaries and 3 replicas with the cluster client (one command at a
 * time, each routed to its slot's primary). Prints calls/s and latency
 * percentiles. Same machine, same process: a comparison of clients and of
 * one server against three, not a capacity figure.
 */
import { randomBytes } from "node:crypto";
import pino from "pino";
import { QueueStore } from "../src/queue/queue-store.js";
import { startEmbeddedRedis } from "../src/redis/embedded-redis.js";
import { closeRedisClient, createRedisClient } from "../src/redis/redis-client.js";
import { connectRedisCluster, createRedisCluster, type RedisConnection } from "../src/redis/redis-cluster.js";
import { startLocalCluster } from "../test/support/redis-cluster.js";

const SECONDS = Number(process.env["CLUSTER_SECONDS"] ?? 5);
const CONCURRENCY = Number(process.env["CLUSTER_CONCURRENCY"] ?? 64);
const EVENTS = Number(process.env["CLUSTER_EVENTS"] ?? 30);
const logger = pino({ level: "silent" });

async function drive(name: string, redis: RedisConnection): Promise<void> {
  const store = new QueueStore(redis, { keyPrefix: `b${randomBytes(4).toString("hex")}:` });
  const events = Array.from({ length: EVENTS }, (_, i) => `bench-${i}`);
  await Promise.all(events.map((eventId) => store.configure(eventId, {})));
  const latencies: number[] = [];
  let user = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const n = user++;
        const started = performance.now();
        await store.join(events[n % EVENTS] as string, `u${n}`);
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2);
  console.log(
    `${name.padEnd(34)} ${String(Math.round(latencies.length / SECONDS)).padStart(7)} joins/s   p50 ${at(0.5)} ms   p99 ${at(0.99)} ms`,
  );
}

const single = await startEmbeddedRedis();
const cluster = await startLocalCluster();
try {
  console.log(`Join, ${CONCURRENCY} callers, ${EVENTS} events, ${SECONDS} s each`);
  const one = createRedisClient(single.url, { commandTimeoutMs: 10_000, logger });
  await one.connect();
  await drive("one redis-server", one);
  await closeRedisClient(one);
  const nodes = cluster.seeds.split(",").map((seed) => ({ host: "127.0.0.1", port: Number(seed.split(":")[1]) }));
  const many = createRedisCluster(nodes, { commandTimeoutMs: 10_000, logger });
  await connectRedisCluster(many);
  await drive("cluster, 3 primaries + 3 replicas", many);
  await closeRedisClient(many);
} finally {
  await Promise.all([single.stop(), cluster.stop()]);
}
