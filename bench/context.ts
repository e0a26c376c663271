import type { Redis } from "ioredis";
import type { QueueStore } from "../src/queue/queue-store.js";
import type { ChildSet } from "./children.js";
import type { QuietWindow } from "./foreign-load.js";
import type { ServiceProcess } from "./service.js";
import type { BenchSettings } from "./settings.js";

/** What every part of the benchmark shares. */
export interface BenchContext {
  readonly settings: BenchSettings;
  readonly children: ChildSet;
  /** The benchmark's own client of the embedded Redis (set-up, checks, CPU readings). */
  readonly redis: Redis;
  readonly store: QueueStore;
  readonly redisUrl: string;
  /** Scratch directory for request bodies and h2load logs; removed at the end. */
  readonly dir: string;
  /** Called before each measurement: waits (within a budget) for other processes to calm down. */
  readonly quiet: QuietWindow;
  /** Suffix that keeps this run's event ids apart from anything else in Redis. */
  readonly runId: string;
}

/** The service and the peer, both running for the unary measurements. */
export interface Servers {
  readonly service: ServiceProcess;
  readonly peer: { readonly port: number; readonly pid: number };
}

/** One line of the results table. Latencies in milliseconds, CPU in µs per call. */
export interface ResultRow {
  readonly label: string;
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpuUs: number;
  readonly redisCpuUs: number;
  /** Share of the machine other processes used during the run (0–1): high values mean a disturbed run. */
  readonly otherLoad: number;
  /** Lowest and highest req/s over the repeats (equal to `reqPerSec` after one run). */
  readonly minReqPerSec: number;
  readonly maxReqPerSec: number;
  /** How success was verified, e.g. "120000 × one 36-byte message". */
  readonly check: string;
  /** A paced run (fixed arrival rate): its req/s is the pace, so no throughput ratios. */
  readonly paced?: boolean;
  /** Which row this one is compared with in the "× peer" column, if not the idempotent peer Join. */
  readonly peerKey?: string;
  readonly key: string;
}

/**
 * Runs every target once per repeat, interleaved (A B C, A B C, …), so that
 * drifting background load hits all targets alike, and reports each target's
 * median run (by req/s) with the range.
 */
export async function interleaved<T extends { readonly key: string }, R extends ResultRow>(
  ctx: BenchContext,
  targets: readonly T[],
  measure: (target: T) => Promise<R>,
): Promise<R[]> {
  const { repeat } = ctx.settings;
  const runs = new Map<string, R[]>();
  for (let round = 0; round < repeat; round++) {
    if (repeat > 1) console.log(`  — repeat ${round + 1} of ${repeat}`);
    for (const target of targets) {
      const row = await ctx.quiet.measure(() => measure(target));
      runs.set(target.key, [...(runs.get(target.key) ?? []), row]);
    }
  }
  return targets.map((target) => medianRun(runs.get(target.key) ?? []));
}

/** The median of a target's runs by req/s (the lower one of an even count), with the range over all of them. */
export function medianRun<R extends ResultRow>(runs: readonly R[]): R {
  const rows = [...runs].sort((a, b) => a.reqPerSec - b.reqPerSec);
  const median = rows[Math.floor((rows.length - 1) / 2)];
  if (!median) throw new Error("no runs to take the median of");
  return { ...median, minReqPerSec: rows[0]?.reqPerSec ?? NaN, maxReqPerSec: rows.at(-1)?.reqPerSec ?? NaN };
}

/** Queue state code for PAUSED: joins accepted, nobody admitted, so positions only move when the benchmark says so. */
export const PAUSED = 2;
