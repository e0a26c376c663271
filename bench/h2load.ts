import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ChildSet } from "./children.js";
import { percentile } from "./grpc-wire.js";

export const H2LOAD = process.env["H2LOAD"] || "/usr/bin/h2load";

export interface H2loadOptions {
  readonly port: number;
  /** `/package.Service/Method` */
  readonly path: string;
  /** The framed request body, sent unchanged by every request. */
  readonly body: Buffer;
  readonly connections: number;
  readonly streams: number;
  /** Approximate length of the measured run. */
  readonly seconds: number;
  /** Length of the discarded run before the measured one (at least 1 s: it also sizes the measured run). */
  readonly warmupSeconds: number;
  /** Pace the run to this many requests per second in total (h2load `--rps`); saturating when unset. */
  readonly rate?: number | undefined;
  /** Where the body and the per-request log go. */
  readonly dir: string;
  /** Called when the warm-up has ended, just before the measured run starts. */
  readonly onMeasureStart?: () => void | Promise<void>;
}

/** What one h2load run measured. Latencies in milliseconds. */
export interface H2loadResult {
  readonly reqPerSec: number;
  readonly done: number;
  readonly succeeded: number;
  readonly failed: number;
  /** DATA frame payload bytes received: with a fixed-size response, `succeeded × frame size` when every call succeeded. */
  readonly dataBytes: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

let runs = 0;

/**
 * Runs h2load against one gRPC method over h2c (prior knowledge) for about
 * `seconds`, and reads its summary and per-request log. h2load's own summary
 * gives min/max/mean/sd only, so p50/p99 come from `--log-file`.
 *
 * First a discarded warm-up run for `warmupSeconds` (JIT, connections),
 * whose rate sizes the measured run: that one sends a fixed number of
 * requests (`-n`), so that every request completes and `dataBytes` covers
 * exactly the counted calls. (A duration run, `-D`, stops with calls in
 * flight whose data has arrived but which are not counted as done, and
 * `--warm-up-time` adds the warm-up's responses to the traffic totals.)
 *
 * Paced runs (`rate`) are split over several h2load processes started a
 * little apart: h2load releases paced requests on a timer tick of 10 ms or
 * more that all connections of one process share, so one process sends
 * bursts of one request per connection; several processes with independent
 * phases come much closer to evenly spaced arrivals.
 */
export async function runH2load(children: ChildSet, options: H2loadOptions): Promise<H2loadResult> {
  const run = ++runs;
  const bodyFile = join(options.dir, `body-${run}.bin`);
  await writeFile(bodyFile, options.body);
  const args = (logFile: string, connections: number, extra: string[]): string[] => [
    "-t", "1",
    "-c", String(connections),
    "-m", String(options.streams),
    ...extra,
    "-d", bodyFile,
    "-H", "content-type: application/grpc",
    "-H", "te: trailers",
    "--log-file", logFile,
    `http://127.0.0.1:${options.port}${options.path}`,
  ];
  const warmupLog = join(options.dir, `h2load-${run}-warmup.log`);
  const pace = (rate: number, connections: number): string[] => ["--rps", (rate / connections).toFixed(2)];
  const warmupSeconds = String(Math.max(1, options.warmupSeconds));
  const warmupPace = options.rate === undefined ? [] : pace(options.rate, options.connections);
  const warmup = parseSummary(await h2load(children, args(warmupLog, options.connections, ["-D", warmupSeconds, ...warmupPace])));

  const processes = options.rate === undefined ? 1 : Math.min(options.connections, PACED_PROCESSES);
  const rate = (options.rate ?? warmup.reqPerSec) / processes;
  const connections = Math.ceil(options.connections / processes);
  const requests = Math.max(connections * options.streams, Math.round(rate * options.seconds));
  await options.onMeasureStart?.();
  const logs = Array.from({ length: processes }, (_, i) => join(options.dir, `h2load-${run}-${i}.log`));
  const summaries = await Promise.all(
    logs.map(async (log, i) => {
      await new Promise((resolve) => setTimeout(resolve, i * 3));
      const paced = options.rate === undefined ? [] : pace(rate, connections);
      return parseSummary(await h2load(children, args(log, connections, ["-n", String(requests), ...paced])));
    }),
  );
  const total = (pick: (s: Summary) => number): number => summaries.reduce((sum, s) => sum + pick(s), 0);
  return {
    reqPerSec: total((s) => s.reqPerSec),
    done: total((s) => s.done),
    succeeded: total((s) => s.succeeded),
    failed: total((s) => s.failed),
    dataBytes: total((s) => s.dataBytes),
    ...(await latencies(logs)),
  };
}

/** h2load processes sharing a paced run. */
const PACED_PROCESSES = 8;

type Summary = Omit<H2loadResult, "p50Ms" | "p99Ms" | "maxMs">;

/** Runs h2load to completion and returns what it printed. */
async function h2load(children: ChildSet, args: readonly string[]): Promise<string> {
  const child = children.spawn("h2load", H2LOAD, args);
  let stdout = "";
  child.process.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  const { code } = await child.exited;
  if (code !== 0) throw new Error(`h2load exited with code ${code}: ${child.output.slice(-1500)}`);
  return stdout;
}

/** Reads the totals from h2load's summary. */
export function parseSummary(text: string): Summary {
  const finished = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(text);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(text);
  const traffic = /traffic: .*?, [\d.]+\w* \((\d+)\) data/.exec(text);
  if (!finished || !requests || !traffic) throw new Error(`unexpected h2load output:\n${text}`);
  return {
    reqPerSec: Number(finished[1]),
    done: Number(requests[3]),
    succeeded: Number(requests[4]),
    failed: Number(requests[5]),
    dataBytes: Number(traffic[1]),
  };
}

/**
 * Percentiles of the third column of h2load's logs (µs from request start to
 * end of response). Requests started in the first `SETTLE_US` of each log
 * are left out: the measured run opens fresh connections, and their set-up
 * (all at once) is not what the latency figures are about.
 */
async function latencies(logFiles: readonly string[]): Promise<Pick<H2loadResult, "p50Ms" | "p99Ms" | "maxMs">> {
  const samples: number[] = [];
  for (const logFile of logFiles) {
    const rows = (await readFile(logFile, "utf8"))
      .split("\n")
      .map((line) => line.split("\t"))
      .filter((columns) => columns.length >= 3 && columns[1] === "200")
      .map((columns) => ({ start: Number(columns[0]), micros: Number(columns[2]) }));
    const first = rows.reduce((min, row) => Math.min(min, row.start), Number.POSITIVE_INFINITY);
    for (const row of rows) if (row.start >= first + SETTLE_US) samples.push(row.micros / 1000);
  }
  const sorted = Float64Array.from(samples).sort();
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: percentile(sorted, 100) };
}

const SETTLE_US = 500_000;
