/**
 * The loop of the lean load generators (`join-client.ts`, `seat-client.ts`):
 * a fixed number of unary gRPC calls in flight on each of a few `node:http2`
 * sessions, each call a different pre-encoded request, each response's
 * `grpc-status` checked. A discarded warm-up, then a measured window that
 * ends after `seconds`, or earlier when the requests run out.
 */
import http2 from "node:http2";
import { grpcHeaders, percentile } from "./grpc-wire.js";
import { connectH2, runChild } from "./h2-client.js";

export interface DriveJob {
  readonly port: number;
  readonly path: string;
  readonly sessions: number;
  readonly streamsPerSession: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  /**
   * Several generators measured as one: once connected, send `{ kind: "ready" }`
   * and fire only on the parent's `{ kind: "go" }`, so all start together.
   */
  readonly startTogether?: boolean;
}

/** Requests 0 … count-1, framed for the wire. */
export interface Requests {
  readonly count: number;
  body(n: number): Buffer;
}

export interface DriveResult {
  /** Calls completed in the measured window per second of it. */
  readonly reqPerSec: number;
  readonly measuredSeconds: number;
  /** Calls completed in the measured window, and how many of them returned grpc-status 0 with a message. */
  readonly done: number;
  readonly ok: number;
  /** Failures in the measured window by grpc-status ("missing", "stream-error" when there was none). */
  readonly failures: Readonly<Record<string, number>>;
  /** Over the whole run, warm-up included: what the server's state must reflect. */
  readonly okTotal: number;
  readonly failuresTotal: Readonly<Record<string, number>>;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU this process used per measured call, µs: shows whether the client itself was the limit. */
  readonly clientCpuUsPerCall: number;
  /** The requests ran out before the measured window's time was up. */
  readonly exhausted: boolean;
}

/**
 * Runs the load. `onSuccess`, when given, receives every successful call's
 * response message (without its 5-byte prefix); otherwise the bodies are only
 * counted, which keeps the hot path lean.
 */
export async function drive(job: DriveJob, requests: Requests, onSuccess?: (n: number, message: Buffer) => void): Promise<DriveResult> {
  const headers = grpcHeaders(job.path);
  const sessions = await Promise.all(Array.from({ length: job.sessions }, () => connectH2(job.port)));
  if (job.startTogether) await startSignal();

  let next = 0;
  let measuring = false;
  let stopping = false;
  let exhausted = false;
  let okTotal = 0;
  let done = 0;
  let ok = 0;
  const failures: Record<string, number> = {};
  const failuresTotal: Record<string, number> = {};
  const samples: number[] = [];
  let inFlight = 0;
  let drained: (() => void) | undefined;
  let endWindow: () => void = () => {};
  const windowOver = new Promise<void>((resolve) => (endWindow = resolve));

  const fire = (session: http2.ClientHttp2Session): void => {
    if (next >= requests.count) {
      exhausted = true;
      endWindow();
    }
    if (stopping || exhausted) {
      if (--inFlight === 0) drained?.();
      return;
    }
    const n = next++;
    const started = performance.now();
    const stream = session.request(headers);
    let status = "missing";
    let bytes = 0;
    const chunks: Buffer[] | undefined = onSuccess ? [] : undefined;
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    };
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      chunks?.push(chunk);
    });
    stream.on("error", () => (status = "stream-error"));
    stream.on("close", () => {
      const success = status === "0" && bytes > 5;
      if (success) {
        okTotal++;
        if (chunks && onSuccess) onSuccess(n, Buffer.concat(chunks).subarray(5));
      } else {
        failuresTotal[status] = (failuresTotal[status] ?? 0) + 1;
      }
      if (measuring) {
        done++;
        if (success) ok++;
        else failures[status] = (failures[status] ?? 0) + 1;
        samples.push(performance.now() - started);
      }
      fire(session);
    });
    stream.end(requests.body(n));
  };

  for (const session of sessions) {
    for (let i = 0; i < job.streamsPerSession; i++) {
      inFlight++;
      fire(session);
    }
  }
  await Promise.race([sleep(job.warmupSeconds * 1000), windowOver]);
  measuring = !exhausted;
  // A parent metering several generators at once reads its meters between these (no-op in-process).
  process.send?.({ kind: "window", phase: "start" });
  const cpuStart = process.cpuUsage();
  const t0 = performance.now();
  const timer = setTimeout(endWindow, job.seconds * 1000);
  await windowOver;
  clearTimeout(timer);
  measuring = false;
  process.send?.({ kind: "window", phase: "end" });
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  stopping = true;
  if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
  for (const session of sessions) session.close();

  const sorted = Float64Array.from(samples).sort();
  return {
    reqPerSec: elapsed > 0 ? done / elapsed : 0,
    measuredSeconds: elapsed,
    done,
    ok,
    failures,
    okTotal,
    failuresTotal,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: percentile(sorted, 100),
    clientCpuUsPerCall: done > 0 ? (cpu.user + cpu.system) / done : Number.NaN,
    exhausted,
  };
}

/** Says ready to the parent and resolves on its go. */
function startSignal(): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown): void => {
      if ((message as { kind?: string })?.kind !== "go") return;
      process.off("message", onMessage);
      resolve();
    };
    process.on("message", onMessage);
    process.send?.({ kind: "ready" });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs a load-generator child: reads its job from `BENCH_JOB`, sends the report over IPC and exits. */
export function childMain<Job, Report>(name: string, run: (job: Job) => Promise<Report>): void {
  runChild<Job>(name, async (job) => {
    const report = await run(job);
    process.send?.(report, () => process.exit(0));
  });
}
