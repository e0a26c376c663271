/**
 * Fresh-join load: every request joins a different user, which h2load cannot
 * do (it sends one body file for every request). A lean `node:http2` client
 * in its own process: requests are pre-encoded into one slab, a fixed number
 * of streams stays in flight on each of a few sessions, and each response's
 * `grpc-status` is checked.
 *
 * Run as a child of the benchmark: reads its job from `BENCH_JOB` (JSON),
 * reports a `JoinLoadReport` over IPC and exits.
 */
import http2 from "node:http2";
import { JoinRequestSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { grpcHeaders, JoinBodies, percentile } from "./grpc-wire.js";

export interface JoinLoadJob {
  readonly port: number;
  readonly path: string;
  readonly eventId: string;
  readonly userPrefix: string;
  readonly sessions: number;
  readonly streamsPerSession: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** Pre-encoded users; the run stops early if they run out. */
  readonly maxUsers: number;
}

export interface JoinLoadReport {
  readonly kind: "report";
  readonly reqPerSec: number;
  /** Calls completed in the measured window, and how many of them returned grpc-status 0 with a message. */
  readonly done: number;
  readonly ok: number;
  /** Successful calls over the whole run, warm-up included: what joined_total must have grown by. */
  readonly okTotal: number;
  readonly failures: Readonly<Record<string, number>>;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU the client used per measured call, µs: shows whether the client itself was the limit. */
  readonly clientCpuUsPerCall: number;
  readonly exhausted: boolean;
}

async function run(job: JoinLoadJob): Promise<JoinLoadReport> {
  const bodies = new JoinBodies(JoinRequestSchema, job.eventId, job.userPrefix, job.maxUsers);
  const headers = grpcHeaders(job.path);
  const sessions = await Promise.all(Array.from({ length: job.sessions }, () => connect(job.port)));

  let next = 0;
  let measuring = false;
  let stopping = false;
  let okTotal = 0;
  let done = 0;
  let ok = 0;
  const failures: Record<string, number> = {};
  const samples: number[] = [];
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const fire = (session: http2.ClientHttp2Session): void => {
    if (stopping || next >= bodies.count) {
      if (--inFlight === 0) drained?.();
      return;
    }
    const body = bodies.body(next++);
    const started = performance.now();
    const stream = session.request(headers);
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
      const success = status === "0" && bytes > 5;
      if (success) okTotal++;
      if (measuring) {
        done++;
        if (success) ok++;
        else failures[status] = (failures[status] ?? 0) + 1;
        samples.push(performance.now() - started);
      }
      fire(session);
    });
    stream.end(body);
  };

  for (const session of sessions) {
    for (let i = 0; i < job.streamsPerSession; i++) {
      inFlight++;
      fire(session);
    }
  }
  await sleep(job.warmupSeconds * 1000);
  measuring = true;
  const cpuStart = process.cpuUsage();
  const t0 = performance.now();
  await sleep(job.seconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  stopping = true;
  if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
  for (const session of sessions) session.close();

  const sorted = Float64Array.from(samples).sort();
  return {
    kind: "report",
    reqPerSec: done / elapsed,
    done,
    ok,
    okTotal,
    failures,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: percentile(sorted, 100),
    clientCpuUsPerCall: done > 0 ? (cpu.user + cpu.system) / done : Number.NaN,
    exhausted: next >= bodies.count,
  };
}

function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.once("error", reject);
    session.once("remoteSettings", () => resolve(session));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const job = JSON.parse(process.env["BENCH_JOB"] ?? "null") as JoinLoadJob | null;
if (job === null) {
  process.stderr.write("join-client: BENCH_JOB is required\n");
  process.exit(2);
}
run(job).then(
  (report) => process.send?.(report, () => process.exit(0)),
  (err: unknown) => {
    process.stderr.write(`join-client: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
