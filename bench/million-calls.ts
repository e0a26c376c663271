import { type BenchContext, interleaved, type ResultRow } from "./context.js";
import { CpuMeter, runFigures } from "./cpu-meter.js";
import type { JoinLoadJob, JoinLoadReport } from "./join-client.js";
import { fillLine, type Line, waitingCount } from "./million-lines.js";
import type { PositionLoadJob, PositionLoadReport } from "./position-client.js";
import type { SeatLoadJob, SeatLoadReport } from "./seat-client.js";
import type { ServiceProcess } from "./service.js";
import type { DriveResult } from "./stream-driver.js";

/** What every lean client reports that a row needs. */
type Report = Pick<DriveResult, "reqPerSec" | "done" | "okTotal" | "p50Ms" | "p99Ms" | "clientCpuUsPerCall">;

const JOIN = "/boxoffice.v1.QueueService/Join";

/** A row of the one-million call table: the lean client's CPU too, and where each process's core went. */
export interface CallRow extends ResultRow {
  readonly clientCpuUs: number;
  /** Users waiting in the line when the run started. */
  readonly waiting: number;
}

/** What the call part needs: the large line, and a way to get a small line of its own for each fresh-Join run. */
export interface CallLines {
  readonly large: Line;
  readonly small: Line;
  /** A fresh small line (a Join run adds thousands of users to the one it runs on). */
  readonly freshSmall: () => Promise<Line>;
}

interface Target {
  readonly key: string;
  readonly label: string;
  readonly run: () => Promise<CallRow>;
}

/**
 * Health/Check through the lean client (the baseline), fresh Joins at the back
 * of the small and of the large line, and GetPosition of users spread along
 * each line — all interleaved over `BENCH_REPEAT` rounds with the same
 * connections and streams, each from its own client process. Checks: every
 * call succeeded, `joined_total` grew by the successful Joins, and every
 * GetPosition answer had the user's exact place.
 */
export async function runCalls(ctx: BenchContext, service: ServiceProcess, lines: CallLines): Promise<CallRow[]> {
  const { settings } = ctx;
  const drive = {
    port: service.grpcPort,
    sessions: settings.connections,
    streamsPerSession: settings.streams,
    warmupSeconds: settings.warmupSeconds,
    seconds: settings.seconds,
  };
  // Far more than two cores can answer in a run.
  const maxRequests = 50_000 * (settings.seconds + settings.warmupSeconds);
  let run = 0;
  const joins = (key: string, label: string, line: () => Promise<Line>): Target => ({
    key,
    label,
    run: async () => {
      const { eventId } = await line();
      const job: JoinLoadJob = { ...drive, path: JOIN, eventId, userPrefix: `j${++run}-`, maxUsers: maxRequests };
      const before = await joinedTotal(ctx, eventId);
      return measure(ctx, service, { key, label, eventId, entry: "bench/join-client.ts", job }, async (report: JoinLoadReport) => {
        const joined = (await joinedTotal(ctx, eventId)) - before;
        if (Object.keys(report.failures).length > 0 || report.ok !== report.done) return `failures by grpc-status ${JSON.stringify(report.failures)}`;
        if (joined !== report.okTotal || report.exhausted) {
          return `joined_total grew by ${joined}, ${report.okTotal} successful calls${report.exhausted ? ", ran out of users" : ""}`;
        }
        return undefined;
      });
    },
  });
  const positions = (key: string, label: string, line: Line): Target => ({
    key,
    label,
    run: () => {
      const job: PositionLoadJob = { ...drive, eventId: line.eventId, userPrefix: line.prefix, users: line.users, firstPosition: line.firstPosition, maxRequests };
      return measure(ctx, service, { key, label, eventId: line.eventId, entry: "bench/position-client.ts", job }, async (report: PositionLoadReport) =>
        report.wrong > 0 ? `${report.wrong} answers not WAITING at the user's place` : failed(report),
      );
    },
  });
  const baseline: Target = {
    key: "million-baseline",
    label: "Health/Check (baseline, same client)",
    run: () => {
      const job: SeatLoadJob = { ...drive, scenario: "baseline", eventId: lines.small.eventId, userPrefix: "b-", maxRequests };
      const client = { key: "million-baseline", label: baseline.label, eventId: lines.small.eventId, entry: "bench/seat-client.ts", job };
      return measure(ctx, service, client, async (report: SeatLoadReport) => failed(report));
    },
  };
  const n = (count: number): string => count.toLocaleString("en-US");
  const targets: Target[] = [
    baseline,
    joins("join-small", `Join new users, ${n(lines.small.users)} waiting`, lines.freshSmall),
    joins("join-large", `Join new users, ${n(lines.large.users)} waiting`, async () => lines.large),
    positions("position-small", `GetPosition, spread over ${n(lines.small.users)} waiting`, lines.small),
    positions("position-large", `GetPosition, spread over ${n(lines.large.users)} waiting`, lines.large),
  ];
  return interleaved(ctx, targets, (target) => target.run());
}

/** Failures anywhere in a `stream-driver` run, warm-up included. */
function failed(report: DriveResult): string | undefined {
  return Object.keys(report.failuresTotal).length > 0 ? `failures by grpc-status ${JSON.stringify(report.failuresTotal)}` : undefined;
}

/** One run of a lean client: its row key and label, the event it calls (for the line's length), its entry file and job. */
interface ClientRun {
  readonly key: string;
  readonly label: string;
  readonly eventId: string;
  readonly entry: string;
  readonly job: { readonly seconds: number; readonly warmupSeconds: number };
}

async function measure<R extends Report>(
  ctx: BenchContext,
  service: ServiceProcess,
  { key, label, eventId, entry, job }: ClientRun,
  check: (report: R) => Promise<string | undefined>,
): Promise<CallRow> {
  const waiting = await waitingCount(ctx, eventId);
  process.stdout.write(`  ${label} … `);
  const meter = new CpuMeter(service.child.pid, ctx.redis);
  await meter.start();
  const child = ctx.children.node(`${entry} (${key})`, entry, { env: { BENCH_JOB: JSON.stringify(job) } });
  const timeoutMs = (job.seconds + job.warmupSeconds) * 1000 + 120_000;
  const report = await child.message((m): m is R => (m as { kind?: string })?.kind === "report", timeoutMs);
  // The meter covers the warm-up too; per-call figures use every successful call.
  const cpu = await meter.stop();
  await child.exited;
  const problem = report.done === 0 ? "no call completed in the measured window" : await check(report);
  if (problem !== undefined) throw new Error(`${label}: ${report.okTotal} calls ok; ${problem}`);
  process.stdout.write(`${Math.round(report.reqPerSec)} req/s, p99 ${report.p99Ms.toFixed(2)} ms\n`);
  return {
    key,
    label,
    waiting,
    ...runFigures(report, cpu),
    check: `${report.okTotal} calls ok`,
  };
}

async function joinedTotal(ctx: BenchContext, eventId: string): Promise<number> {
  const stats = await ctx.store.stats(eventId);
  if (stats.kind !== "stats") throw new Error(`${eventId}: ${stats.kind}`);
  return stats.stats.joinedTotal;
}

/** A small line of its own for every call, named after the run. */
export function smallLines(ctx: BenchContext, users: number): () => Promise<Line> {
  let count = 0;
  return async () => (await fillLine(ctx, `bench-million-small-${ctx.runId}-${++count}`, users)).line;
}
