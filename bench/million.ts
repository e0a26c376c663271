import { loadavg } from "node:os";
import { loadConfig } from "../src/config.js";
import type { BenchContext, ResultRow } from "./context.js";
import { runFanout, type FanoutResult } from "./fanout.js";
import { type CallRow, runCalls, smallLines } from "./million-calls.js";
import { type Fill, fillLine, type LineMemory, lineMemory, waitingCount } from "./million-lines.js";
import { runSweep, type SweepRun } from "./million-sweep.js";
import { startService } from "./service.js";
import { measureBaseline } from "./unary.js";

/** Everything the one-million scenario measured. */
export interface MillionResult {
  readonly large: Fill;
  readonly small: Fill;
  readonly memory: LineMemory;
  /** The Redis setting that decides when a ticket bucket leaves the compact encoding. */
  readonly listpackEntries: string;
  readonly h2loadBaseline: ResultRow;
  readonly calls: readonly CallRow[];
  /** Fan-out at the back of the small line, then of the large one. */
  readonly fanout: readonly FanoutResult[];
  readonly sweep: SweepRun;
  /** 1-minute load average when the scenario started and when it ended (the machine is shared). */
  readonly loadAverage: readonly [number, number];
}

/**
 * The one-million scenario, on a service process of its own (default
 * settings, as in production): fills a line of `BENCH_MILLION_USERS` and
 * one of `BENCH_MILLION_SMALL` through the store, reads what the large one
 * costs Redis in memory, then measures Join and GetPosition against both
 * lines, WatchPosition fan-out at the back of each, and finally the service's
 * idle sweeper expiring the whole large line.
 */
export async function runMillion(ctx: BenchContext): Promise<MillionResult> {
  const { settings } = ctx;
  const loadBefore = loadavg()[0] ?? 0;
  const service = await startService(ctx.children, { redisUrl: ctx.redisUrl, watchIntervalMs: loadConfig({}).watchIntervalMs });
  try {
    const n = (count: number): string => count.toLocaleString("en-US");
    process.stdout.write(`  filling a line of ${n(settings.millionUsers)} (batches of ${n(settings.millionFillBatch)} joins):`);
    const large = await fillLine(ctx, `bench-million-${ctx.runId}`, settings.millionUsers, true);
    process.stdout.write(` — ${large.seconds.toFixed(1)} s, ${Math.round(settings.millionUsers / large.seconds)} joins/s\n`);
    const small = await fillLine(ctx, `bench-million-small-${ctx.runId}-0`, settings.millionSmall);
    console.log(`  filling a line of ${n(settings.millionSmall)}: ${small.seconds.toFixed(1)} s`);
    process.stdout.write("  memory of the large line (MEMORY USAGE … SAMPLES 0) … ");
    const memory = await lineMemory(ctx.redis, large.line.eventId);
    const [, listpackEntries = "?"] = (await ctx.redis.config("GET", "hash-max-listpack-entries")) as string[];
    console.log(`${((large.memoryAfter - large.memoryBefore) / (large.line.users + large.line.heads)).toFixed(1)} B/user (used_memory delta)`);

    const h2loadBaseline = await measureBaseline(ctx, service);
    console.log(`  Calls (lean client, ${settings.repeat} interleaved rounds):`);
    const calls = await runCalls(ctx, service, { large: large.line, small: small.line, freshSmall: smallLines(ctx, settings.millionSmall) });

    const fanout: FanoutResult[] = [];
    for (const { line } of [small, large]) {
      const ahead = (await waitingCount(ctx, line.eventId)) - line.heads;
      const label = `behind ${n(ahead)} waiting`;
      fanout.push(await runFanout(ctx, service, "grpc", { watchers: settings.millionWatchers, line: { eventId: line.eventId, ahead, label } }));
    }

    console.log("  Idle sweep of the large line:");
    const sweep = await runSweep(ctx, service, large.line);
    const loadAverage = [loadBefore, loadavg()[0] ?? 0] as const;
    return { large, small, memory, listpackEntries, h2loadBaseline, calls, fanout, sweep, loadAverage };
  } finally {
    await service.stop(60_000);
  }
}
