/**
 * The `cluster` scenario: the same load on one redis-server and on a local
 * Redis Cluster of 3 primaries + 3 replicas (the service in cluster mode,
 * REDIS_CLUSTER_NODES). Three events, one load generator each: on the
 * cluster each event sits on a different primary (asserted with CLUSTER
 * KEYSLOT and CLUSTER SLOTS). Then one hot event on the cluster, all three
 * generators on it: everything on one slot, so one primary — the ceiling of
 * a single on-sale however many shards there are.
 */
import type { BenchContext } from "./context.js";
import { eventsOnDistinctShards, place, startBenchCluster, type BenchCluster, type PlacedEvent } from "./local-cluster.js";
import { runLayout, type ScaleRow } from "./scale-runs.js";
import { startService, type ServiceOptions, type ServiceProcess } from "./service.js";

const GENERATORS = 3;

export interface ClusterScaleResult {
  readonly rows: readonly ScaleRow[];
  /** The events of the spread layout and the hot one, with their slots and primaries. */
  readonly placement: readonly PlacedEvent[];
  readonly services: number;
}

export async function runClusterScale(ctx: BenchContext): Promise<ClusterScaleResult> {
  const count = ctx.settings.clusterServices;
  const rows: ScaleRow[] = [];
  const spreadIds = Array.from({ length: GENERATORS }, (_, i) => `bench-spread-${ctx.runId}-${i}`);

  // One redis-server: the three events on the one node.
  await withServices(ctx, count, { redisUrl: ctx.redisUrl }, async (services) => {
    rows.push(
      ...(await runLayout(ctx, {
        key: "single",
        label: "1 redis-server, 3 events",
        clients: spreadIds.map((eventId, i) => ({ port: portOf(services, i), eventId })),
        servicePids: services.map((s) => s.child.pid),
        nodes: [{ name: "redis-server", redis: ctx.redis }],
        store: ctx.store,
      })),
    );
  });

  process.stdout.write("  starting a local cluster (3 primaries + 3 replicas) … ");
  const bench: BenchCluster = await startBenchCluster();
  console.log(bench.nodes.map((n) => n.name).join(", "));
  try {
    const spread = await eventsOnDistinctShards(bench.cluster, `bench-spread-${ctx.runId}`, GENERATORS);
    const hot = await place(bench.cluster, `bench-hot-${ctx.runId}`);
    for (const e of [...spread, hot]) console.log(`  ${e.eventId}: slot ${e.slot}, primary :${e.primary}`);
    if (new Set(spread.map((e) => e.primary)).size !== GENERATORS) throw new Error("the spread events share a primary");
    await withServices(ctx, count, { redisClusterNodes: bench.cluster.seeds }, async (services) => {
      const base = { servicePids: services.map((s) => s.child.pid), nodes: bench.nodes, store: bench.store };
      rows.push(
        ...(await runLayout(ctx, {
          ...base,
          key: "cluster",
          label: "cluster, 3 events on 3 shards",
          clients: spread.map((e, i) => ({ port: portOf(services, i), eventId: e.eventId })),
        })),
      );
      rows.push(
        ...(await runLayout(ctx, {
          ...base,
          key: "hot",
          label: "cluster, 1 hot event",
          clients: Array.from({ length: GENERATORS }, (_, i) => ({
            port: portOf(services, i),
            eventId: hot.eventId,
            share: { index: i, of: GENERATORS },
          })),
        })),
      );
    });
    return { rows, placement: [...spread, hot], services: count };
  } finally {
    await bench.stop();
  }
}

/** Generator `i` calls service `i mod n`. */
const portOf = (services: readonly ServiceProcess[], i: number): number => (services[i % services.length] as ServiceProcess).grpcPort;

async function withServices(
  ctx: BenchContext,
  count: number,
  redis: Pick<ServiceOptions, "redisUrl" | "redisClusterNodes">,
  body: (services: readonly ServiceProcess[]) => Promise<void>,
): Promise<void> {
  const services: ServiceProcess[] = [];
  try {
    for (let i = 0; i < count; i++) services.push(await startService(ctx.children, { ...redis, watchIntervalMs: 250 }));
    await body(services);
  } finally {
    for (const service of services) await service.stop();
  }
}
