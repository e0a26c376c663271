import { type BenchContext, interleaved, PAUSED, type ResultRow, type Servers } from "./context.js";
import { CpuMeter, runFigures } from "./cpu-meter.js";
import type { JoinLoadJob, JoinLoadReport } from "./join-client.js";

const JOIN = "/boxoffice.v1.QueueService/Join";

/** Fresh joins, with their load generator's CPU per call (it is Node, not h2load, so it may be the limit). */
export interface FreshRow extends ResultRow {
  readonly clientCpuUs: number;
}

/**
 * Joins a new user with every call (the write path: a new sequence number,
 * two sorted-set inserts, the ticket, the outbox entry), driven by
 * `join-client.ts` in its own process with the same connections and streams
 * as the h2load runs. Each target gets its own empty event, and afterwards
 * the event's `joined_total` must equal the successful calls.
 */
export async function runFresh(ctx: BenchContext, servers: Servers): Promise<FreshRow[]> {
  const { service, peer } = servers;
  const targets = [
    { key: "fresh-peer", label: "Join new users, peer (bare grpc-js)", port: peer.port, pid: peer.pid },
    { key: "fresh-grpc", label: "Join new users, gRPC port", port: service.grpcPort, pid: service.child.pid },
    { key: "fresh-connect", label: "Join new users, Connect port", port: service.connectPort, pid: service.child.pid },
  ];
  let run = 0;
  return interleaved(
    ctx,
    targets.filter((t) => ctx.settings.only?.has(t.key) ?? true),
    (target) => measure(ctx, target, ++run),
  );
}

async function measure(
  ctx: BenchContext,
  target: { key: string; label: string; port: number; pid: number },
  run: number,
): Promise<FreshRow> {
  const { settings } = ctx;
  const eventId = `bench-${target.key}-${ctx.runId}-${run}`;
  await ctx.store.configure(eventId, { state: PAUSED });
  const job: JoinLoadJob = {
    port: target.port,
    path: JOIN,
    eventId,
    userPrefix: "u",
    sessions: settings.connections,
    streamsPerSession: settings.streams,
    warmupSeconds: settings.warmupSeconds,
    seconds: settings.seconds,
    // Far above what two cores can join per second.
    maxUsers: 50_000 * (settings.seconds + settings.warmupSeconds),
  };
  process.stdout.write(`  ${target.label} … `);
  const meter = new CpuMeter(target.pid, ctx.redis);
  const child = ctx.children.node(`join-client (${target.key})`, "bench/join-client.ts", {
    env: { BENCH_JOB: JSON.stringify(job) },
  });
  // The meter covers warm-up too; per-call figures use all successful calls.
  await meter.start();
  const timeoutMs = (settings.seconds + settings.warmupSeconds) * 1000 + 60_000;
  const report = await child.message((m): m is JoinLoadReport => (m as { kind?: string })?.kind === "report", timeoutMs);
  const cpu = await meter.stop();
  await child.exited;

  const stats = await ctx.store.stats(eventId);
  const joined = stats.kind === "stats" ? stats.stats.joinedTotal : -1;
  const failures = Object.entries(report.failures);
  if (failures.length > 0 || report.ok !== report.done || joined !== report.okTotal || report.exhausted) {
    throw new Error(
      `${target.label}: ${report.ok}/${report.done} ok, failures ${JSON.stringify(report.failures)}, ` +
        `joined_total ${joined} vs ${report.okTotal} successful calls${report.exhausted ? ", ran out of users" : ""}`,
    );
  }
  process.stdout.write(`${Math.round(report.reqPerSec)} req/s, p99 ${report.p99Ms.toFixed(2)} ms\n`);
  return {
    key: target.key,
    label: target.label,
    ...runFigures(report, cpu),
    check: `${report.okTotal} new users (joined_total)`,
    peerKey: "fresh-peer",
  };
}
