import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { loadConfig } from "../src/config.js";
import { StoredQueueState } from "../src/redis/outcomes.js";
import { type Child, cpuMs, rssBytes } from "./children.js";
import type { BenchContext } from "./context.js";
import { CpuMeter } from "./cpu-meter.js";
import type { OnSaleClientMessage, OnSaleJob, OnSaleReport } from "./onsale-client.js";
import { ProgressPrinter } from "./onsale-progress.js";
import { startService, type ServiceProcess } from "./service.js";

/** The on-sale service runs with the service's own defaults: the admitter and the watch loop at 250 ms. */
const DEFAULTS = loadConfig({});
const JOINS_IN_FLIGHT = 256;
/** Long enough that no session ends and no waiter is expired during a run. */
const SESSION_TTL_SECONDS = 3600;
const IDLE_TIMEOUT_SECONDS = 3600;

/**
 * `rush`: users join an open event and are let in as they come.
 * `opening`: they all join before the sale opens (the pre-queue, position 0),
 * then the sale opens: one shuffle, and the whole line drains at the rate.
 */
export type OnSaleVariant = "rush" | "opening";
export const ONSALE_VARIANTS: readonly OnSaleVariant[] = ["rush", "opening"];

export interface OnSaleResult {
  readonly variant: OnSaleVariant;
  readonly users: number;
  readonly rate: number;
  readonly burst: number;
  readonly admitIntervalMs: number;
  readonly report: OnSaleReport;
  /** Admissions per second after the first step: how fast the admitter really let people in. */
  readonly admittedPerSec: number;
  /** `opening`: from removing opens_at to the first pass's issued_at, and until the median and the last stream heard their place. */
  readonly openingToFirstPassMs: number | undefined;
  readonly openingToPlacedP50Ms: number | undefined;
  readonly openingToPlacedLastMs: number | undefined;
  /** Until the head tenth of the line heard its first place (or its pass); printed, not in the table. */
  readonly openingToHeadPlacedMs: number | undefined;
  /** CPU from the first Join to the client's report. */
  readonly serverCpuMs: number;
  readonly redisCpuMs: number;
  /** While users were being admitted (`rush`: the whole run): the service's average and busiest second, in cores. */
  readonly admitCores: number;
  readonly admitPeakCores: number;
  readonly rssBeforeMiB: number;
  /** With a pre-queue: when every user joined and watches, just before the opening. */
  readonly rssQueuedMiB: number | undefined;
  readonly rssPeakMiB: number;
  readonly otherLoad: number;
}

type Msg<K extends OnSaleClientMessage["kind"]> = Extract<OnSaleClientMessage, { kind: K }>;
const is =
  <K extends OnSaleClientMessage["kind"]>(...kinds: K[]) =>
  (m: unknown): m is Msg<K> =>
    kinds.includes((m as { kind?: K })?.kind as K);

/**
 * The on-sale scenario, one variant: on a service process of its own
 * (admitter on, a pass key the client can verify with), `onsaleUsers` users
 * join one event as fast as `onsale-client.ts` can make them, each followed
 * by a WatchPosition stream, and the event admits `onsaleRate` users a
 * second. Fails unless every user was admitted exactly once, with a valid
 * pass, and Redis agrees.
 */
export async function runOnSale(ctx: BenchContext, variant: OnSaleVariant): Promise<OnSaleResult> {
  const passKeys = `onsale:base64:${randomBytes(32).toString("base64")}`;
  const profile = ctx.settings.cpuProfileDir;
  const service = await startService(ctx.children, {
    redisUrl: ctx.redisUrl,
    watchIntervalMs: DEFAULTS.watchIntervalMs,
    admitIntervalMs: DEFAULTS.admitIntervalMs,
    passKeys,
    cpuProfileDir: profile && join(profile, `onsale-${variant}`),
  });
  const result = await measure(ctx, service, passKeys, variant);
  await service.stop();
  console.log("    service stopped on SIGTERM with exit code 0");
  return result;
}

async function measure(ctx: BenchContext, service: ServiceProcess, passKeys: string, variant: OnSaleVariant): Promise<OnSaleResult> {
  const { onsaleUsers: users, onsaleRate: rate, onsaleBurst: burst } = ctx.settings;
  const eventId = `bench-onsale-${variant}-${ctx.runId}`;
  await ctx.store.configure(eventId, {
    admitRatePerSec: rate,
    admitBurst: burst,
    maxActive: 0,
    sessionTtlSeconds: SESSION_TTL_SECONDS,
    idleTimeoutSeconds: IDLE_TIMEOUT_SECONDS,
    state: StoredQueueState.OPEN,
    // Far enough ahead that only the benchmark opens the sale.
    ...(variant === "opening" ? { opensAtMs: Date.now() + 3_600_000 } : {}),
  });
  const job: OnSaleJob = {
    port: service.grpcPort,
    eventId,
    userPrefix: "buyer-",
    users,
    sessions: ctx.settings.onsaleSessions,
    joinsInFlight: JOINS_IN_FLIGHT,
    preQueue: variant === "opening",
    tickMs: DEFAULTS.admitIntervalMs,
    passKeys,
    // Two minutes plus four times what admission alone needs: only a stuck run gets there.
    deadlineMs: 120_000 + (4_000 * users) / rate,
  };
  const client = ctx.children.node(`onsale-client (${variant})`, "bench/onsale-client.ts", { env: { BENCH_JOB: JSON.stringify(job) } });
  try {
    const ready = await client.message(is("ready"), 60_000);
    process.stdout.write(`  ${variant}: ${ready.sessions} connections open `);
    await ctx.quiet.wait();
    process.stdout.write("\n");
    const pid = service.child.pid;
    const rssBefore = rssBytes(pid);
    const meter = new CpuMeter(pid, ctx.redis);
    await meter.start();
    const progress = new ProgressPrinter({ service: pid, redis: await redisPid(ctx), client: client.pid }, client.process);
    const sampler = progress.service;
    let admitFrom = { at: performance.now(), cpuMs: cpuMs(pid), sample: 0 };
    let openedAtMs: number | undefined;
    let rssQueued: number | undefined;
    const report = await follow(ctx, client, eventId, job.deadlineMs + 60_000, () => {
      rssQueued = rssBytes(pid);
      openedAtMs = Date.now();
      admitFrom = { at: performance.now(), cpuMs: cpuMs(pid), sample: sampler.cores.length };
    }).finally(() => progress.stop());
    const admitCores = (cpuMs(pid) - admitFrom.cpuMs) / (performance.now() - admitFrom.at);
    const cpu = await meter.stop();
    await client.exited;

    const spanSeconds = (report.lastIssuedMs - report.firstIssuedMs) / 1000;
    const result: OnSaleResult = {
      variant,
      users,
      rate,
      burst,
      admitIntervalMs: DEFAULTS.admitIntervalMs,
      report,
      admittedPerSec: spanSeconds > 0 ? (report.admitted - report.firstStep) / spanSeconds : Number.NaN,
      openingToFirstPassMs: openedAtMs === undefined ? undefined : report.firstIssuedMs - openedAtMs,
      openingToPlacedP50Ms: openedAtMs === undefined ? undefined : report.placedP50AtMs - openedAtMs,
      openingToPlacedLastMs: openedAtMs === undefined ? undefined : report.placedLastAtMs - openedAtMs,
      openingToHeadPlacedMs: openedAtMs === undefined ? undefined : report.placedHeadAtMs - openedAtMs,
      serverCpuMs: cpu.serverMs,
      redisCpuMs: cpu.redisMs,
      admitCores,
      admitPeakCores: Math.max(0, ...sampler.cores.slice(admitFrom.sample)),
      rssBeforeMiB: rssBefore / 1024 / 1024,
      rssQueuedMiB: rssQueued === undefined ? undefined : rssQueued / 1024 / 1024,
      rssPeakMiB: Math.max(sampler.peakRssBytes, rssQueued ?? 0) / 1024 / 1024,
      otherLoad: cpu.otherLoad,
    };
    await check(ctx, eventId, result);
    return result;
  } finally {
    await client.stop("SIGKILL", 0);
  }
}

/**
 * Lets the client go and waits for its report. With a pre-queue, opens the
 * sale once every user waits in it (removing opens_at: the next admitter tick
 * shuffles and starts admitting), calling `opening` just before.
 */
async function follow(ctx: BenchContext, client: Child, eventId: string, timeoutMs: number, opening: () => void): Promise<OnSaleReport> {
  client.send({ kind: "go" });
  const first = await client.message(is("queued", "report"), timeoutMs);
  if (first.kind === "report") return first;
  console.log(`  all ${ctx.settings.onsaleUsers} users joined and watching; opening the sale`);
  opening();
  await ctx.store.configure(eventId, { opensAtMs: null });
  return client.message(is("report"), timeoutMs);
}

/** Every user joined once and was admitted once, as the client saw it and as Redis counts it. */
async function check(ctx: BenchContext, eventId: string, result: OnSaleResult): Promise<void> {
  const { report, users } = result;
  const stats = await ctx.store.stats(eventId);
  if (stats.kind !== "stats") throw new Error(`on-sale: ${eventId} has no stats (${stats.kind})`);
  const { joinedTotal, admittedTotal, waiting } = stats.stats;
  const problems = Object.entries(report.failures).map(([kind, count]) => `${count} × ${kind}`);
  if (report.admitted !== users) problems.push(`${report.admitted} of ${users} streams delivered a pass`);
  if (joinedTotal !== users || admittedTotal !== users || waiting !== 0) {
    problems.push(`Redis: joined_total ${joinedTotal}, admitted_total ${admittedTotal}, waiting ${waiting}; expected ${users}, ${users}, 0`);
  }
  const delivery = `pass delivery p50 ${ms(report.deliveryP50Ms)}, p99 ${ms(report.deliveryP99Ms)}`;
  if (problems.length > 0) {
    throw new Error(`on-sale (${result.variant}) checks failed: ${problems.join("; ")} (${delivery} over ${report.admitted} passes)`);
  }
  console.log(
    `  ${result.variant}: checks passed; ${users} passes, ${delivery} ` +
      `(of which ${report.unplaced.passes} came before the stream had shown a place: p50 ${ms(report.unplaced.p50Ms)}, p99 ${ms(report.unplaced.p99Ms)})`,
  );
  const windows = report.byWindow.map((w) => `${(w.fromMs / 1000).toFixed(0)} s: ${w.passes} → ${ms(w.p50Ms)} / ${ms(w.p99Ms)}`);
  if (result.openingToHeadPlacedMs !== undefined) {
    const head = ms(result.openingToHeadPlacedMs);
    const p50 = ms(result.openingToPlacedP50Ms ?? Number.NaN);
    const all = ms(result.openingToPlacedLastMs ?? Number.NaN);
    console.log(`  ${result.variant}: placed after the opening: the head tenth of the line ${head}, the median ${p50}, everyone ${all}`);
  }
  console.log(`  ${result.variant}: pass delivery p50 / p99 by when the pass was issued, from the first: ${windows.join("; ")}`);
}

/** Milliseconds for a message; "–" for a missing figure (NaN arrives over IPC as null). */
function ms(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(0)} ms` : "–";
}

/** The embedded Redis's process id, for its CPU per second. */
async function redisPid(ctx: BenchContext): Promise<number> {
  const match = /^process_id:(\d+)/m.exec(await ctx.redis.info("server"));
  if (!match) throw new Error("INFO server has no process_id");
  return Number(match[1]);
}
