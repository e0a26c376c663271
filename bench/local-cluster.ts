import type { Cluster, Redis } from "ioredis";
import pino from "pino";
import { QueueStore } from "../src/queue/queue-store.js";
import { closeRedisClient } from "../src/redis/redis-client.js";
import { connectRedisCluster, createRedisCluster } from "../src/redis/redis-cluster.js";
import { startLocalCluster, type LocalCluster } from "../test/support/redis-cluster.js";
import type { RedisNode } from "./scale-load.js";

/** The cluster tests' local cluster (3 primaries + 3 replicas), with what the benchmark reads and writes through. */
export interface BenchCluster {
  readonly cluster: LocalCluster;
  /** A cluster client, for configuring queues. */
  readonly client: Cluster;
  readonly store: QueueStore;
  /** A plain connection to each node, primaries first, named by role and port (CPU and FCALL readings). */
  readonly nodes: readonly RedisNode[];
  stop(): Promise<void>;
}

export async function startBenchCluster(): Promise<BenchCluster> {
  const cluster = await startLocalCluster();
  const nodes: RedisNode[] = [];
  let client: Cluster | undefined;
  const stop = async (): Promise<void> => {
    for (const node of nodes) node.redis.disconnect();
    if (client) await closeRedisClient(client);
    await cluster.stop();
  };
  try {
    const shards = await cluster.shards();
    for (const shard of shards) nodes.push({ name: `primary :${shard.primary}`, redis: cluster.connect(shard.primary) });
    for (const shard of shards) for (const port of shard.replicas) nodes.push({ name: `replica :${port}`, redis: cluster.connect(port) });
    const seeds = cluster.ports.map((port) => ({ host: "127.0.0.1", port }));
    client = createRedisCluster(seeds, { commandTimeoutMs: 10_000, logger: pino({ level: "silent" }) });
    await connectRedisCluster(client);
    return { cluster, client, store: new QueueStore(client), nodes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** An event and where its keys live: the slot of its hash tag and the port of the primary owning it. */
export interface PlacedEvent {
  readonly eventId: string;
  readonly slot: number;
  readonly primary: number;
}

/**
 * Event ids `<prefix>-0`, `<prefix>-1`, … until one sits on each of `count`
 * different primaries, checked with CLUSTER KEYSLOT and CLUSTER SLOTS on a
 * live node (every key of an event carries the hash tag `{<eventId>}`).
 */
export async function eventsOnDistinctShards(cluster: LocalCluster, prefix: string, count: number): Promise<PlacedEvent[]> {
  const placed = new Map<number, PlacedEvent>();
  for (let i = 0; placed.size < count; i++) {
    if (i > 1000) throw new Error(`no ${count} events on distinct primaries after ${i} ids`);
    const eventId = `${prefix}-${i}`;
    const event = await place(cluster, eventId);
    if (!placed.has(event.primary)) placed.set(event.primary, event);
  }
  return [...placed.values()];
}

export async function place(cluster: LocalCluster, eventId: string): Promise<PlacedEvent> {
  const primary = await cluster.ownerOf(`{${eventId}}`);
  const redis: Redis = cluster.connect(primary);
  try {
    return { eventId, slot: Number(await redis.cluster("KEYSLOT", `{${eventId}}`)), primary };
  } finally {
    redis.disconnect();
  }
}
