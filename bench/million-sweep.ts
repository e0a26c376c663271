import type { Redis } from "ioredis";
import type { BenchContext } from "./context.js";
import { CpuMeter } from "./cpu-meter.js";
import { type Line, waitingCount } from "./million-lines.js";
import { parseCommandStats } from "./script-bench-kit.js";
import type { ServiceProcess } from "./service.js";

/** The smallest idle timeout an event may have (`ConfigureQueueRequest.idle_timeout_seconds`). */
const SMALLEST_IDLE_SECONDS = 1;

export interface SweepRun {
  /** Users waiting when the idle timeout was lowered, and how many the sweeper expired. */
  readonly waiting: number;
  readonly expired: number;
  /** From lowering the idle timeout until the line was empty. */
  readonly seconds: number;
  readonly serviceCpuMs: number;
  readonly redisCpuMs: number;
  readonly otherLoad: number;
  /** FCALLs Redis served meanwhile (the sweep steps, plus one configure and one-read steps over the other events), and their total time. */
  readonly fcalls: number;
  readonly fcallUsec: number;
  /** `LATENCY LATEST` with `LATENCY HISTORY` of each event (threshold 1 ms): worst and how many seconds had a sample. */
  readonly latency: ReadonlyArray<{ readonly event: string; readonly maxMs: number; readonly samples: number }>;
  /** SLOWLOG entries (≥ 1 ms): the sweep function's, and every other command's. */
  readonly slowSweeps: { readonly count: number; readonly maxUs: number; readonly medianUs: number };
  readonly slowOthers: ReadonlyArray<{ readonly command: string; readonly us: number }>;
}

/**
 * Lets the service's own idle sweeper expire a whole line. Nobody has been
 * present in the line for seconds (the users were joined minutes ago, the
 * watchers are gone), so lowering the event's idle timeout to the smallest
 * allowed (1 s) makes every waiter idle at once, with production semantics
 * and the production clock: the sweeper (`SWEEP_INTERVAL_MS`, 500 waiters a
 * step) finds them on its next pass and walks the line step by step. Redis's
 * latency monitor (threshold 1 ms) and slow log (≥ 1 ms) watch meanwhile.
 */
export async function runSweep(ctx: BenchContext, service: ServiceProcess, line: Line): Promise<SweepRun> {
  const { redis } = ctx;
  const saved = await Promise.all(
    ["latency-monitor-threshold", "slowlog-log-slower-than", "slowlog-max-len"].map(async (name) => [name, await configValue(redis, name)] as const),
  );
  // Everyone's last presence must be older than the new timeout, the watchers' included.
  await new Promise((resolve) => setTimeout(resolve, (SMALLEST_IDLE_SECONDS + 1) * 1000));
  try {
    await redis.config("SET", "latency-monitor-threshold", "1");
    await redis.config("SET", "slowlog-log-slower-than", "1000");
    await redis.config("SET", "slowlog-max-len", "100000");
    await redis.call("LATENCY", "RESET");
    await redis.slowlog("RESET");
    const waiting = await waitingCount(ctx, line.eventId);
    process.stdout.write(`  ${waiting.toLocaleString("en-US")} waiting; idle timeout lowered to ${SMALLEST_IDLE_SECONDS} s … `);
    const before = parseCommandStats(await redis.info("commandstats")).get("fcall") ?? { calls: 0, usec: 0 };
    const meter = new CpuMeter(service.child.pid, redis);
    await meter.start();
    const started = performance.now();
    const changed = await ctx.store.configure(line.eventId, { idleTimeoutSeconds: SMALLEST_IDLE_SECONDS });
    if (changed.kind !== "updated") throw new Error(`lowering the idle timeout of ${line.eventId}: ${changed.kind}`);
    const deadline = Date.now() + Math.max(120_000, waiting / 5);
    let left = waiting;
    while (left > 0) {
      if (Date.now() > deadline) throw new Error(`the sweeper left ${left} of ${waiting} waiting after ${(performance.now() - started) / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await waitingCount(ctx, line.eventId);
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = await meter.stop();
    const after = parseCommandStats(await redis.info("commandstats")).get("fcall") ?? { calls: 0, usec: 0 };
    process.stdout.write(`empty after ${seconds.toFixed(1)} s\n`);
    return {
      waiting,
      expired: waiting - left,
      seconds,
      serviceCpuMs: cpu.serverMs,
      redisCpuMs: cpu.redisMs,
      otherLoad: cpu.otherLoad,
      fcalls: after.calls - before.calls,
      fcallUsec: after.usec - before.usec,
      latency: await latencies(redis),
      ...(await slowEntries(redis)),
    };
  } finally {
    for (const [name, value] of saved) await redis.config("SET", name, value);
  }
}

async function configValue(redis: Redis, name: string): Promise<string> {
  const [, value] = (await redis.config("GET", name)) as string[];
  if (value === undefined) throw new Error(`CONFIG GET ${name}: no value`);
  return value;
}

/** Every event `LATENCY LATEST` names, with the worst and the count of its `LATENCY HISTORY` samples (one per second at most). */
async function latencies(redis: Redis): Promise<SweepRun["latency"]> {
  const latest = (await redis.call("LATENCY", "LATEST")) as Array<[string, number, number, number]>;
  return Promise.all(
    latest.map(async ([event, , , allTimeMax]) => {
      const history = (await redis.call("LATENCY", "HISTORY", event)) as Array<[number, number]>;
      const maxMs = Math.max(allTimeMax, ...history.map(([, ms]) => ms));
      return { event, maxMs, samples: history.length };
    }),
  );
}

/** SLOWLOG entries split into the sweep function's FCALLs and the rest. */
async function slowEntries(redis: Redis): Promise<Pick<SweepRun, "slowSweeps" | "slowOthers">> {
  const entries = (await redis.call("SLOWLOG", "GET", "-1")) as Array<[number, number, number, string[]]>;
  const sweeps: number[] = [];
  const others: Array<{ command: string; us: number }> = [];
  for (const [, , us, args] of entries) {
    const [command = "", name = ""] = args;
    if (command.toLowerCase() === "fcall" && name.startsWith("sweepQueue_")) sweeps.push(us);
    else others.push({ command: args.slice(0, 2).join(" "), us });
  }
  const sorted = sweeps.sort((a, b) => a - b);
  return {
    slowSweeps: { count: sorted.length, maxUs: sorted.at(-1) ?? 0, medianUs: sorted[Math.floor((sorted.length - 1) / 2)] ?? 0 },
    slowOthers: others.sort((a, b) => b.us - a.us),
  };
}
