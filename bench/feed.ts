import type { Redis } from "ioredis";
import { loadConfig } from "../src/config.js";
import type { Child } from "./children.js";
import { type BenchContext, PAUSED, type ResultRow } from "./context.js";
import { CpuMeter } from "./cpu-meter.js";
import type { FeedClientMessage, FeedJob, FeedReport } from "./feed-client.js";
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

interface ClientRun {
  readonly report: FeedReport;
  readonly serviceMs: number;
  readonly redisMs: number;
  readonly clientMs: number;
  readonly fcallUsec: number;
  readonly fcalls: number;
  /** `live`: the pace the Joins really kept. */
  readonly joinsPerSec: number;
  readonly otherLoad: number;
}

/**
 * Starts `feed-client.ts` with `job` (and, for `live`, a second one making the
 * Joins), lets the consumers go once the machine is quiet, the Joins half a
 * second later (the streams open, the group exists), and meters everyone's
 * CPU meanwhile.
 */
async function runClient(ctx: BenchContext, service: ServiceProcess, job: FeedJob): Promise<ClientRun> {
  const consumer = await startClient(ctx, job);
  const joiner = job.mode === "live" ? await startClient(ctx, { ...job, mode: "joins" }) : undefined;
  await ctx.quiet.wait();
  const meter = new CpuMeter(service.child.pid, ctx.redis);
  const fcallBefore = await fcallStats(ctx.redis);
  await meter.start();
  const consumed = report(consumer, job.deadlineMs + 30_000);
  consumer.send({ kind: "go" });
  let joined: Promise<FeedReport> | undefined;
  if (joiner) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    joined = report(joiner, job.deadlineMs);
    joiner.send({ kind: "go" });
  }
  const [last, joins] = await Promise.all([consumed, joined]);
  const cpu = await meter.stop();
  const fcallAfter = await fcallStats(ctx.redis);
  for (const child of [consumer, joiner]) {
    const exit = await child?.exited;
    if (child && exit?.code !== 0) throw new Error(`${child.name} exited with code ${exit?.code}: ${child.output.slice(-1500)}`);
  }
  return {
    report: joins ? { ...last, joinsOk: joins.joinsOk, joinErrors: joins.joinErrors } : last,
    serviceMs: cpu.serverMs,
    redisMs: cpu.redisMs,
    clientMs: last.cpuMs,
    fcallUsec: fcallAfter.usec - fcallBefore.usec,
    fcalls: fcallAfter.calls - fcallBefore.calls,
    joinsPerSec: joins ? (joins.joinsOk * 1000) / joins.elapsedMs : 0,
    otherLoad: cpu.otherLoad,
  };
}

const isMessage = (m: unknown): m is FeedClientMessage => typeof (m as { kind?: unknown })?.kind === "string";

async function startClient(ctx: BenchContext, job: FeedJob): Promise<Child> {
  const client = ctx.children.node(`feed-client (${job.mode})`, "bench/feed-client.ts", { env: { BENCH_JOB: JSON.stringify(job) } });
  const first = await client.message(isMessage, 60_000);
  if (first.kind !== "ready") throw new Error(`${client.name}: ${first.kind === "error" ? first.message : first.kind}`);
  return client;
}

async function report(client: Child, timeoutMs: number): Promise<FeedReport> {
  const message = await client.message(isMessage, timeoutMs);
  if (message.kind !== "report") throw new Error(`${client.name}: ${message.kind === "error" ? message.message : message.kind}`);
  return message.report;
}

/** FCALL calls and time inside Redis so far (`INFO commandstats`). */
async function fcallStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  const match = /^cmdstat_fcall:calls=(\d+),usec=(\d+),/m.exec(await redis.info("commandstats"));
  return { calls: Number(match?.[1] ?? 0), usec: Number(match?.[2] ?? 0) };
}
