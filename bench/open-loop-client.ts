/**
 * The open-loop Join generator: one process, a few multiplexed HTTP/2
 * connections, every call a new user (pre-encoded, `JoinBodies`).
 *
 * On `saturate` it runs the closed loop of `stream-driver.ts` (a fixed number
 * of calls in flight) and reports the rate it reached. On `pace` it sends
 * calls on a fixed schedule, call k at t0 + k / rate, whether or not earlier
 * calls were answered, and measures every latency from the call's scheduled
 * time: a stall of the server (or of this process) shows as latency of every
 * call that should have been sent meanwhile, not as calls that never were.
 * It also reports how late the sends themselves were and its own CPU share,
 * so a saturated generator is visible in the report.
 *
 * Run as a child of the benchmark; job from `BENCH_JOB`; IPC: → `ready` once
 * connected; ← `saturate` /
 * `pace` → `measuring` (window starts) → `measured` (window ends) → the report;
 * ← `close` → exits.
 */
import http2 from "node:http2";
import { JoinRequestSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { grpcHeaders, JoinBodies, percentile } from "./grpc-wire.js";
import { connectForStreams, runChild } from "./h2-client.js";
import { drive } from "./stream-driver.js";

const JOIN = "/boxoffice.v1.QueueService/Join";

export interface OpenLoopJob {
  readonly port: number;
  readonly sessions: number;
}

export type OpenLoopCommand =
  | { kind: "saturate"; eventId: string; userPrefix: string; streamsPerSession: number; warmupSeconds: number; seconds: number }
  | { kind: "pace"; eventId: string; userPrefix: string; rate: number; warmupSeconds: number; seconds: number }
  | { kind: "close" };

export interface SaturationReport {
  readonly kind: "saturated";
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly okTotal: number;
  readonly failures: Readonly<Record<string, number>>;
  /** This process's CPU time over the measured window, in cores (1 = one core busy all the time). */
  readonly generatorCores: number;
}

export interface PacedReport {
  readonly kind: "paced";
  readonly targetRate: number;
  /** Calls scheduled in the measured window per second of it. */
  readonly sentRate: number;
  /** Calls answered during the measured window per second of it. */
  readonly achievedRate: number;
  /** From each call's scheduled send time to its answer, calls scheduled in the window. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** From the actual send (what a closed-loop client reports), p99. */
  readonly serviceP99Ms: number;
  /** How late the sends left after their scheduled time: the generator's own delay. */
  readonly sendLagP99Ms: number;
  readonly sendLagMaxMs: number;
  readonly maxInFlight: number;
  readonly generatorCores: number;
  readonly measured: number;
  /** Successful calls over the whole level, warm-up included: what joined_total must have grown by. */
  readonly okTotal: number;
  readonly failures: Readonly<Record<string, number>>;
  /** Calls of the window still unanswered when the generator gave up on them. */
  readonly unanswered: number;
}

export type OpenLoopMessage = SaturationReport | PacedReport | { kind: "ready" } | { kind: "measuring" } | { kind: "measured" };

/** How long calls of the window may stay unanswered after it ends before they count as lost. */
const DRAIN_MS = 30_000;

async function main(job: OpenLoopJob): Promise<void> {
  const sessions = await connectForStreams(job.port, job.sessions, 10_000);
  let busy = Promise.resolve();
  process.on("message", (command: OpenLoopCommand) => {
    busy = busy.then(async () => {
      if (command.kind === "close") {
        for (const session of sessions) session.close();
        process.exit(0);
      }
      const report = command.kind === "saturate" ? await saturate(job, command) : await pace(sessions, command);
      send(report);
    });
    busy.catch((err: unknown) => {
      process.stderr.write(`open-loop-client: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
  });
  send({ kind: "ready" });
}

async function saturate(job: OpenLoopJob, command: Extract<OpenLoopCommand, { kind: "saturate" }>): Promise<SaturationReport> {
  const bodies = new JoinBodies(JoinRequestSchema, command.eventId, command.userPrefix, 20_000 * (command.seconds + command.warmupSeconds));
  send({ kind: "measuring" });
  const result = await drive(
    { port: job.port, path: JOIN, sessions: job.sessions, streamsPerSession: command.streamsPerSession, warmupSeconds: command.warmupSeconds, seconds: command.seconds },
    { count: bodies.count, body: (n) => bodies.body(n) },
  );
  send({ kind: "measured" });
  if (result.exhausted) throw new Error("the saturation run ran out of pre-encoded users");
  return {
    kind: "saturated",
    reqPerSec: result.reqPerSec,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    okTotal: result.okTotal,
    failures: result.failuresTotal,
    generatorCores: (result.clientCpuUsPerCall * result.done) / (result.measuredSeconds * 1e6),
  };
}

async function pace(sessions: readonly http2.ClientHttp2Session[], command: Extract<OpenLoopCommand, { kind: "pace" }>): Promise<PacedReport> {
  const { rate, warmupSeconds, seconds } = command;
  const total = Math.ceil(rate * (warmupSeconds + seconds));
  const bodies = new JoinBodies(JoinRequestSchema, command.eventId, command.userPrefix, total);
  const headers = grpcHeaders(JOIN);
  const intervalMs = 1000 / rate;
  const t0 = performance.now() + 50;
  const windowStart = t0 + warmupSeconds * 1000;
  const windowEnd = windowStart + seconds * 1000;
  const firstMeasured = Math.ceil((windowStart - t0) / intervalMs);
  const scheduled = (k: number): number => t0 + k * intervalMs;

  const latency = new Float64Array(total).fill(Number.NaN);
  const service = new Float64Array(total).fill(Number.NaN);
  const lag = new Float64Array(total).fill(Number.NaN);
  const failures: Record<string, number> = {};
  let okTotal = 0;
  let answeredInWindow = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let outstandingMeasured = 0;
  let onDrained: () => void = () => {};
  const drained = new Promise<void>((resolve) => (onDrained = resolve));
  let cpuStart = process.cpuUsage();
  let cpu = { user: 0, system: 0 };

  const call = (k: number, sentAt: number): void => {
    const measured = k >= firstMeasured;
    if (measured) outstandingMeasured++;
    inFlight++;
    if (inFlight > maxInFlight) maxInFlight = inFlight;
    lag[k] = sentAt - scheduled(k);
    const stream = (sessions[k % sessions.length] as http2.ClientHttp2Session).request(headers);
    let status = "missing";
    let bytes = 0;
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    };
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", (chunk: Buffer) => (bytes += chunk.length));
    stream.on("error", () => (status = "stream-error"));
    stream.on("close", () => {
      const at = performance.now();
      inFlight--;
      if (status === "0" && bytes > 5) okTotal++;
      else failures[status] = (failures[status] ?? 0) + 1;
      if (at >= windowStart && at < windowEnd) answeredInWindow++;
      latency[k] = at - scheduled(k);
      service[k] = at - sentAt;
      if (measured && --outstandingMeasured === 0 && next === total) onDrained();
    });
    stream.end(bodies.body(k));
  };

  // The schedule: whenever the event loop gets here, send every call whose time has come.
  let next = 0;
  await new Promise<void>((resolve) => {
    let measuring = false;
    const tick = (): void => {
      const now = performance.now();
      if (!measuring && now >= windowStart) {
        measuring = true;
        cpuStart = process.cpuUsage();
        send({ kind: "measuring" });
      }
      while (next < total && scheduled(next) <= now) call(next++, now);
      if (next === total) {
        resolve();
        return;
      }
      setTimeout(tick, Math.max(0, scheduled(next) - performance.now()));
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, windowEnd - performance.now())));
  cpu = process.cpuUsage(cpuStart);
  send({ kind: "measured" });
  if (outstandingMeasured > 0) await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, DRAIN_MS))]);

  const window = latency.subarray(firstMeasured);
  const answered = Float64Array.from(window.filter((v) => !Number.isNaN(v))).sort();
  const serviceSorted = Float64Array.from(service.subarray(firstMeasured).filter((v) => !Number.isNaN(v))).sort();
  const lagSorted = Float64Array.from(lag.subarray(firstMeasured)).sort();
  return {
    kind: "paced",
    targetRate: rate,
    sentRate: window.length / seconds,
    achievedRate: answeredInWindow / seconds,
    p50Ms: percentile(answered, 50),
    p99Ms: percentile(answered, 99),
    p999Ms: percentile(answered, 99.9),
    maxMs: percentile(answered, 100),
    serviceP99Ms: percentile(serviceSorted, 99),
    sendLagP99Ms: percentile(lagSorted, 99),
    sendLagMaxMs: percentile(lagSorted, 100),
    maxInFlight,
    generatorCores: (cpu.user + cpu.system) / (seconds * 1e6),
    measured: window.length,
    okTotal,
    failures,
    unanswered: window.length - answered.length,
  };
}

function send(message: OpenLoopMessage): void {
  process.send?.(message);
}

runChild<OpenLoopJob>("open-loop-client", main);
