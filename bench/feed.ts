import { loadConfig } from "../src/config.js";
import { type BenchContext, PAUSED, type ResultRow } from "./context.js";
import type { FeedJob, FeedReport } from "./feed-client.js";
import { runClient } from "./feed-runner.js";
import { percentile } from "./grpc-wire.js";
import { startService, type ServiceProcess } from "./service.js";
import { measureBaseline } from "./unary.js";

/** The service's own defaults: WATCH_INTERVAL_MS, and FEED_POLL_MS for the first live run. */
const DEFAULTS = loadConfig({});

/** One drain of a backlog: rates, CPU per delivered entry and who was busy. */
export interface FeedDrainRow {
  readonly label: string;
  readonly entries: number;
  /** Backlog written through the store (pipelined Joins), entries per second. */
  readonly writePerSec: number;
  readonly eventsPerSec: number;
  readonly batches: number;
  readonly serviceCpuUs: number;
  readonly redisCpuUs: number;
  /** FCALL time inside Redis (`INFO commandstats`) per entry, and FCALLs (deliveries and Acks) in all. */
  readonly fcallUs: number;
  readonly fcalls: number;
  readonly clientCpuUs: number;
  /** CPU seconds per second of the drain: 1 means one core busy all along. */
  readonly serviceCores: number;
  readonly redisCores: number;
  readonly clientCores: number;
  readonly otherLoad: number;
  readonly problems: readonly string[];
}

/** Changes made over gRPC while the group follows: change time to arrival at the consumer. */
export interface FeedLiveRow {
  readonly label: string;
  readonly pollMs: number;
  readonly joins: number;
  readonly joinsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly serviceCpuUs: number;
  readonly otherLoad: number;
  readonly problems: readonly string[];
}

export interface FeedResults {
  /** The health Check on the feed's own service process, right before the drains. */
  readonly baseline: ResultRow;
  readonly drains: readonly FeedDrainRow[];
  readonly live: readonly FeedLiveRow[];
}

/**
 * The change feed scenario. On a service process of its own: the baseline,
 * then a backlog of a quarter of `feedEntries` and one of `feedEntries`
 * written through the store and drained by one group's consumers
 * (`feed-client.ts`), then Joins over gRPC followed live. Then the live part
 * again on a service with FEED_POLL_MS at `feedFastPollMs`.
 */
export async function runFeed(ctx: BenchContext): Promise<FeedResults> {
  const s = ctx.settings;
  const service = await startService(ctx.children, { redisUrl: ctx.redisUrl, watchIntervalMs: DEFAULTS.watchIntervalMs });
  const drains: FeedDrainRow[] = [];
  const live: FeedLiveRow[] = [];
  let baseline: ResultRow;
  try {
    baseline = await measureBaseline(ctx, service);
    for (const entries of [Math.max(1, Math.round(s.feedEntries / 4)), s.feedEntries]) {
      drains.push(await drain(ctx, service, entries));
    }
    live.push(await follow(ctx, service, "default"));
  } finally {
    await service.stop();
  }
  console.log("  service stopped on SIGTERM with exit code 0");
  const fast = await startService(ctx.children, { redisUrl: ctx.redisUrl, watchIntervalMs: DEFAULTS.watchIntervalMs, feedPollMs: s.feedFastPollMs });
  try {
    live.push(await follow(ctx, fast, s.feedFastPollMs));
  } finally {
    await fast.stop();
  }
  console.log("  service stopped on SIGTERM with exit code 0");
  return { baseline, drains, live };
}

async function drain(ctx: BenchContext, service: ServiceProcess, entries: number): Promise<FeedDrainRow> {
  const s = ctx.settings;
  const eventId = `bench-feed-${entries}-${ctx.runId}`;
  process.stdout.write(`  backlog of ${entries} entries … `);
  const writeStart = performance.now();
  await writeBacklog(ctx, eventId, entries);
  const writePerSec = (entries * 1000) / (performance.now() - writeStart);
  process.stdout.write(`written at ${Math.round(writePerSec)}/s; drained by ${s.feedConsumers} consumers … `);
  const job: FeedJob = {
    mode: "drain",
    port: service.grpcPort,
    eventId,
    group: "bench",
    consumers: s.feedConsumers,
    maxInFlight: s.feedMaxInFlight,
    entries,
    rate: 0,
    deadlineMs: 60_000 + entries, // a millisecond an entry: only a stuck run gets there
  };
  const run = await runClient(ctx, service, job);
  const { report } = run;
  const problems = [
    ...statsProblems(report, entries),
    ...(report.received === entries ? [] : [`received ${report.received} distinct entries`]),
    ...(report.deliveries === entries ? [] : [`${report.deliveries} deliveries (redeliveries?)`]),
  ];
  const seconds = report.elapsedMs / 1000;
  const row: FeedDrainRow = {
    label: `Drain ${entries} entries, ${s.feedConsumers} consumers × max_in_flight ${s.feedMaxInFlight}`,
    entries,
    writePerSec,
    eventsPerSec: entries / seconds,
    batches: report.batches,
    serviceCpuUs: (run.serviceMs * 1000) / entries,
    redisCpuUs: (run.redisMs * 1000) / entries,
    fcallUs: run.fcallUsec / entries,
    fcalls: run.fcalls,
    clientCpuUs: (run.clientMs * 1000) / entries,
    serviceCores: run.serviceMs / report.elapsedMs,
    redisCores: run.redisMs / report.elapsedMs,
    clientCores: run.clientMs / report.elapsedMs,
    otherLoad: run.otherLoad,
    problems,
  };
  console.log(`${Math.round(row.eventsPerSec)} events/s${problems.length ? ` — FAIL: ${problems.join("; ")}` : ""}`);
  return row;
}

async function follow(ctx: BenchContext, service: ServiceProcess, poll: number | "default"): Promise<FeedLiveRow> {
  const s = ctx.settings;
  const pollMs = poll === "default" ? DEFAULTS.feed.pollMs : poll;
  const eventId = `bench-feed-live-${pollMs}-${ctx.runId}`;
  // One entry (queue.configured) before the group exists; the group starts at the beginning.
  await ctx.store.configure(eventId, { state: PAUSED });
  const joins = s.feedLiveRate * s.feedLiveSeconds;
  process.stdout.write(`  live, FEED_POLL_MS=${pollMs}${poll === "default" ? " (default)" : ""}: ${joins} Joins at ${s.feedLiveRate}/s … `);
  const job: FeedJob = {
    mode: "live",
    port: service.grpcPort,
    eventId,
    group: "bench",
    consumers: s.feedConsumers,
    maxInFlight: s.feedMaxInFlight,
    entries: joins,
    rate: s.feedLiveRate,
    deadlineMs: 30_000 + (2_000 * joins) / s.feedLiveRate,
  };
  const run = await runClient(ctx, service, job);
  const { report } = run;
  const problems = [
    ...statsProblems(report, joins + 1),
    ...(report.joinErrors === 0 ? [] : [`${report.joinErrors} Joins failed`]),
    ...(report.latencyMs.length === joins ? [] : [`${report.latencyMs.length} queue.joined entries timed, ${joins} expected`]),
  ];
  const row: FeedLiveRow = {
    label: `Live, FEED_POLL_MS=${pollMs}${poll === "default" ? " (default)" : ""}`,
    pollMs,
    joins,
    joinsPerSec: run.joinsPerSec,
    p50Ms: percentile(report.latencyMs, 50),
    p99Ms: percentile(report.latencyMs, 99),
    maxMs: report.latencyMs.at(-1) ?? Number.NaN,
    serviceCpuUs: (run.serviceMs * 1000) / joins,
    otherLoad: run.otherLoad,
    problems,
  };
  console.log(`p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms${problems.length ? ` — FAIL: ${problems.join("; ")}` : ""}`);
  return row;
}

/** The stream must hold `entries` and the group must have had all of them delivered once and acknowledged. */
function statsProblems(report: FeedReport, entries: number): string[] {
  const { before, after } = report;
  const problems: string[] = [];
  if (after.length !== entries) problems.push(`stream holds ${after.length}, expected ${entries}`);
  if (after.pending !== 0) problems.push(`group pending ${after.pending}`);
  if (after.delivered !== entries || after.acked !== entries) problems.push(`delivered ${after.delivered}, acked ${after.acked}, expected ${entries}`);
  if (before.delivered !== 0) problems.push(`group existed before the run (${before.delivered} delivered)`);
  return problems;
}

/** configure (one entry), then `entries - 1` Joins of new users straight through the store, pipelined. */
async function writeBacklog(ctx: BenchContext, eventId: string, entries: number): Promise<void> {
  await ctx.store.configure(eventId, { state: PAUSED });
  const chunk = 2_000;
  for (let from = 1; from < entries; from += chunk) {
    const calls = [];
    for (let i = from; i < Math.min(entries, from + chunk); i++) calls.push(ctx.store.join(eventId, `backlog-${i}`));
    for (const result of await Promise.all(calls)) {
      if (result.kind !== "joined") throw new Error(`backlog Join answered ${result.kind}`);
    }
  }
}
