import type { Redis } from "ioredis";
import type { Child } from "./children.js";
import type { BenchContext } from "./context.js";
import { CpuMeter } from "./cpu-meter.js";
import type { FeedClientMessage, FeedJob, FeedReport } from "./feed-client.js";
import type { ServiceProcess } from "./service.js";

/** What one run of the feed client cost: its report, and the CPU each party spent meanwhile. */
export interface ClientRun {
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
export async function runClient(ctx: BenchContext, service: ServiceProcess, job: FeedJob): Promise<ClientRun> {
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
