/**
 * The `instances` scenario: one service process against two (`src/main.ts`,
 * each on its own ports) over the benchmark's private redis-server. The same
 * two load generators either both call the first instance or call one
 * instance each, on one event (the seats split between them), so the only
 * difference between the two layouts is how many service processes answer.
 */
import type { BenchContext } from "./context.js";
import type { RedisNode } from "./scale-load.js";
import { runLayout, type ScaleRow } from "./scale-runs.js";
import { startService, type ServiceProcess } from "./service.js";

export async function runInstances(ctx: BenchContext): Promise<ScaleRow[]> {
  const services: ServiceProcess[] = [];
  try {
    for (let i = 0; i < 2; i++) services.push(await startService(ctx.children, { redisUrl: ctx.redisUrl, watchIntervalMs: 250 }));
    const [a, b] = services as [ServiceProcess, ServiceProcess];
    const nodes: RedisNode[] = [{ name: "redis-server", redis: ctx.redis }];
    const pids = [a.child.pid, b.child.pid];
    const rows: ScaleRow[] = [];
    for (const [key, label, ports] of [
      ["one", "1 instance", [a.grpcPort, a.grpcPort]],
      ["two", "2 instances", [a.grpcPort, b.grpcPort]],
    ] as const) {
      const eventId = `bench-instances-${key}-${ctx.runId}`;
      rows.push(
        ...(await runLayout(ctx, {
          key,
          label,
          clients: ports.map((port, index) => ({ port, eventId, share: { index, of: ports.length } })),
          servicePids: pids,
          nodes,
          store: ctx.store,
        })),
      );
    }
    return rows;
  } finally {
    for (const service of services) await service.stop();
  }
}
