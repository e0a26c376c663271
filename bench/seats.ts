import { join } from "node:path";
import { LoadSeatMapResponseSchema } from "../gen/boxoffice/v1/seats_pb.js";
import { seatKeys } from "../src/seats/keys.js";
import { type BenchContext, medianRun, type ResultRow } from "./context.js";
import { CpuMeter, runFigures } from "./cpu-meter.js";
import { callOk } from "./h2-unary.js";
import type { SeatLoadJob, SeatLoadReport, SeatScenario } from "./seat-client.js";
import { PAIR, seatMapRequest, SEATS } from "./seat-plan.js";
import type { ServiceProcess } from "./service.js";

const LOAD_SEAT_MAP = "/boxoffice.v1.SeatService/LoadSeatMap";
/** grpc-js's default receive limit, which the service keeps. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** The key prefix the service uses by default (`REDIS_KEY_PREFIX`). */
const KEY_PREFIX = "bo:";

/** A seat scenario's row, with its load generator's CPU per call. */
export interface SeatRow extends ResultRow {
  readonly clientCpuUs: number;
}

export interface SeatResults {
  readonly rows: readonly SeatRow[];
  /** What the Redis check of the last round found, one sentence. */
  readonly verified: string;
}

const SCENARIOS: ReadonlyArray<{ readonly scenario: SeatScenario; readonly label: string }> = [
  { scenario: "baseline", label: "Health/Check (baseline, same client)" },
  { scenario: "explicit", label: "HoldSeats, 2 explicit seats" },
  { scenario: "best", label: "HoldSeats, best available 2" },
  { scenario: "confirm", label: "ConfirmHold" },
  { scenario: "ga", label: "HoldSeats, general admission 2" },
];

/**
 * The seat scenario. Every round loads a 100,000-seat map plus a GA tier into
 * a fresh event over the gRPC port, drives each call once with
 * `seat-client.ts` in its own process (same connections and streams as the
 * other runs), and checks the event in Redis. A run consumes inventory, so a
 * disturbed one is not re-run (the run still waits for a quiet moment
 * first); instead there are as many rounds as `BENCH_REPEAT`, and each
 * call's median round is reported with the range.
 */
export async function runSeats(ctx: BenchContext, service: ServiceProcess): Promise<SeatResults> {
  const runs = new Map<string, SeatRow[]>();
  let verified = "";
  for (let round = 1; round <= ctx.settings.repeat; round++) {
    if (ctx.settings.repeat > 1) console.log(`  — round ${round} of ${ctx.settings.repeat}`);
    const { rows, check } = await runRound(ctx, service, `bench-seats-${ctx.runId}-${round}`);
    for (const row of rows) runs.set(row.key, [...(runs.get(row.key) ?? []), row]);
    console.log(`  ${check}`);
    verified = check;
  }
  return { rows: [...runs.values()].map((r) => medianRun(r)), verified };
}

async function runRound(ctx: BenchContext, service: ServiceProcess, eventId: string): Promise<{ rows: SeatRow[]; check: string }> {
  const { settings } = ctx;
  // Far more GA requests than two cores can answer in a run, and places for all of them.
  const maxRequests = 10_000 * (settings.seconds + settings.warmupSeconds);
  const body = seatMapRequest(eventId, PAIR * maxRequests);
  if (body.length >= MAX_MESSAGE_BYTES) throw new Error(`LoadSeatMap request of ${body.length} bytes exceeds the 4 MiB limit`);
  process.stdout.write(`  LoadSeatMap, ${SEATS} seats + a GA tier (${(body.length / 1e6).toFixed(2)} MB request) … `);
  const started = performance.now();
  const { response } = await callOk(service.grpcPort, LOAD_SEAT_MAP, body, LoadSeatMapResponseSchema, 120_000);
  if (response.seatMap?.seats !== SEATS) throw new Error(`LoadSeatMap loaded ${response.seatMap?.seats} seats, not ${SEATS}`);
  process.stdout.write(`${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  const holdsFile = (scenario: SeatScenario): string => join(ctx.dir, `${eventId}-holds-${scenario}.txt`);
  const reports = new Map<SeatScenario, SeatLoadReport>();
  const rows: SeatRow[] = [];
  // BENCH_ONLY may name scenarios (`seats-explicit,…`), e.g. to profile one; ConfirmHold needs the explicit run.
  for (const { scenario, label } of SCENARIOS.filter((s) => settings.only?.has(`seats-${s.scenario}`) ?? true)) {
    const job: SeatLoadJob = {
      scenario,
      eventId,
      port: service.grpcPort,
      userPrefix: `${scenario}-`,
      sessions: settings.connections,
      streamsPerSession: settings.streams,
      warmupSeconds: settings.warmupSeconds,
      seconds: settings.seconds,
      maxRequests,
      ...(scenario === "explicit" || scenario === "best" ? { holdsOut: holdsFile(scenario) } : {}),
      // Holds of the explicit run first; the best-available ones only if ConfirmHold outruns them.
      ...(scenario === "confirm" ? { holdsIn: [holdsFile("explicit"), holdsFile("best")] } : {}),
    };
    await ctx.quiet.wait();
    const { row, report } = await measure(ctx, service, job, label);
    reports.set(scenario, report);
    rows.push(row);
  }
  return { rows, check: await verify(ctx, eventId, reports) };
}

async function measure(ctx: BenchContext, service: ServiceProcess, job: SeatLoadJob, label: string): Promise<{ row: SeatRow; report: SeatLoadReport }> {
  process.stdout.write(`  ${label} … `);
  const meter = new CpuMeter(service.child.pid, ctx.redis);
  await meter.start();
  const child = ctx.children.node(`seat-client (${job.scenario})`, "bench/seat-client.ts", { env: { BENCH_JOB: JSON.stringify(job) } });
  const timeoutMs = (job.seconds + job.warmupSeconds) * 1000 + 120_000;
  const report = await child.message((m): m is SeatLoadReport => (m as { kind?: string })?.kind === "report", timeoutMs);
  const cpu = await meter.stop();
  await child.exited;

  const failed = Object.entries(report.failuresTotal);
  if (failed.length > 0 || report.done === 0) {
    throw new Error(`${label}: ${report.okTotal} calls ok, failures by grpc-status ${JSON.stringify(report.failuresTotal)}`);
  }
  const ranOut = report.exhausted ? `, used all ${report.prepared} after ${report.measuredSeconds.toFixed(1)} s` : "";
  process.stdout.write(`${Math.round(report.reqPerSec)} req/s, p99 ${report.p99Ms.toFixed(2)} ms${ranOut}\n`);
  const calls = report.okTotal;
  const row: SeatRow = {
    key: `seats-${job.scenario}`,
    label,
    ...runFigures(report, cpu),
    check: job.scenario === "baseline" ? `${calls} calls ok` : `${calls} ok, ${report.seats} ${job.scenario === "confirm" ? "sold" : "held"}${ranOut}`,
  };
  return { row, report };
}

/**
 * Reads the event's inventory straight from Redis: the counters must add up
 * to the seats of the successful calls, and walking every hold record must
 * find no seat twice, each one marked in `s:taken` with its own hold.
 */
async function verify(ctx: BenchContext, eventId: string, reports: ReadonlyMap<SeatScenario, SeatLoadReport>): Promise<string> {
  const seats = (s: SeatScenario): number => reports.get(s)?.seats ?? 0;
  const calls = (s: SeatScenario): number => reports.get(s)?.okTotal ?? 0;
  const reserved = seats("explicit") + seats("best");
  const all = reserved + seats("ga");
  const holdCount = calls("explicit") + calls("best") + calls("ga");
  const k = seatKeys(KEY_PREFIX, eventId);
  const [held, sold] = (await ctx.redis.hmget(k.counts, "e:held", "e:sold")).map(Number) as [number, number];
  const [taken, holds] = await Promise.all([ctx.redis.hgetall(k.taken), ctx.redis.hgetall(k.holds)]);
  const takenCount = Object.keys(taken).length;

  const problems: string[] = [];
  if (all !== PAIR * holdCount) problems.push(`${all} seats in ${holdCount} successful holds, not ${PAIR} each`);
  if (held + sold !== all) problems.push(`e:held ${held} + e:sold ${sold} ≠ ${all} seats of successful holds`);
  if (sold !== seats("confirm")) problems.push(`e:sold ${sold} ≠ ${seats("confirm")} seats confirmed`);
  if (takenCount !== reserved) problems.push(`HLEN s:taken ${takenCount} ≠ ${reserved} reserved seats held or sold`);
  if (Object.keys(holds).length !== holdCount) problems.push(`${Object.keys(holds).length} hold records, ${holdCount} successful holds`);
  // A hold record is `state|user|created|expires|quantity|tier|order|seat,seat`.
  const owner = new Map<string, string>();
  for (const [holdId, record] of Object.entries(holds)) {
    for (const seat of (record.split("|")[7] ?? "").split(",").filter(Boolean)) {
      const other = owner.get(seat);
      if (other !== undefined) problems.push(`seat ${seat} in holds ${other} and ${holdId}`);
      else if (taken[seat]?.slice(1) !== holdId) problems.push(`seat ${seat} of hold ${holdId} is marked ${taken[seat]} in s:taken`);
      owner.set(seat, holdId);
      if (problems.length > 10) throw new Error(`seat inventory check failed:\n  ${problems.join("\n  ")}`);
    }
  }
  if (owner.size !== reserved) problems.push(`hold records name ${owner.size} seats, ${reserved} were held`);
  if (problems.length > 0) throw new Error(`seat inventory check failed:\n  ${problems.join("\n  ")}`);
  return (
    `Redis: e:held ${held} + e:sold ${sold} = ${all} seats and places of ${holdCount} successful holds (${sold} sold = the confirmed ones); ` +
    `s:taken has ${takenCount} seats = the reserved seats held or sold, and the ${holdCount} hold records name each of them once`
  );
}
