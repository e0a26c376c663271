/**
 * On-sale load: users arrive as fast as this process can make them. Each one
 * Joins (unary), then opens a WatchPosition stream and follows it to its end,
 * over a few HTTP/2 connections (`node:http2`, gRPC framing by hand), while
 * the service's admitter lets them in. `OnSaleTally` checks every message and
 * times each ADMITTED one against its pass's issued_at (Redis TIME on this
 * machine, so one clock).
 *
 * Run as a child of the benchmark. Reads its job from `BENCH_JOB` (JSON);
 * IPC protocol: → `ready` once the connections are up; ← `go`; → `progress`
 * every second; with a pre-queue, → `queued` once every user has joined and
 * heard from their stream (the benchmark then opens the sale); → `report`
 * once every stream has ended (or at the deadline).
 */
import http2 from "node:http2";
import { JoinRequestSchema, WatchPositionRequestSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { parsePassKeys } from "../src/pass/pass.js";
import { FrameReader, grpcHeaders, JoinBodies } from "./grpc-wire.js";
import { connectForStreams, runChild } from "./h2-client.js";
import { OnSaleTally, type OnSaleTallySummary } from "./onsale-tally.js";

export interface OnSaleJob {
  readonly port: number;
  readonly eventId: string;
  readonly userPrefix: string;
  readonly users: number;
  /** HTTP/2 connections (more if the server's stream limit asks for it). */
  readonly sessions: number;
  /** Joins in flight at once: arrivals are as fast as the service answers them. */
  readonly joinsInFlight: number;
  /** Users join before the sale opens (position 0 until the opening shuffle). */
  readonly preQueue: boolean;
  /** The service's ADMIT_INTERVAL_MS: deliveries within it are counted. */
  readonly tickMs: number;
  /** The service's PASS_KEYS: every pass is verified after the run. */
  readonly passKeys: string;
  /** What has not ended by then is a failure. */
  readonly deadlineMs: number;
}

export interface OnSaleReport extends OnSaleTallySummary {
  readonly kind: "report";
  readonly sessions: number;
  /** From the first Join sent to the last answered. */
  readonly joinSeconds: number;
  /** From the first Join sent to the last stream's end. */
  readonly seconds: number;
  readonly clientCpuMs: number;
}

export type OnSaleClientMessage =
  | { readonly kind: "ready"; readonly sessions: number }
  | { readonly kind: "progress"; readonly joined: number; readonly admitted: number; readonly open: number }
  | { readonly kind: "queued" }
  | OnSaleReport;

const JOIN = "/boxoffice.v1.QueueService/Join";
const WATCH = "/boxoffice.v1.QueueService/WatchPosition";
const now = (): number => performance.timeOrigin + performance.now();

async function main(job: OnSaleJob): Promise<void> {
  const parsed = parsePassKeys(job.passKeys);
  if (!("keys" in parsed)) throw new Error(`PASS_KEYS: ${parsed.problems.join("; ")}`);
  const joins = new JoinBodies(JoinRequestSchema, job.eventId, job.userPrefix, job.users);
  const watches = new JoinBodies(WatchPositionRequestSchema, job.eventId, job.userPrefix, job.users);
  const tally = new OnSaleTally(job.users, job.tickMs, job.preQueue);
  const sessions = await connectForStreams(job.port, job.sessions, job.users + job.joinsInFlight);
  send({ kind: "ready", sessions: sessions.length });
  await new Promise<void>((resolve) => process.once("message", () => resolve()));

  const joinHeaders = grpcHeaders(JOIN);
  const watchHeaders = grpcHeaders(WATCH);
  const streams = new Array<http2.ClientHttp2Stream | undefined>(job.users);
  const cpuStart = process.cpuUsage();
  const started = now();
  let next = 0;
  let finished = 0;
  let open = 0;
  let lastJoinAt = started;
  let stopping = false;
  let queued = !job.preQueue;
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const finish = (): void => {
    if (++finished === job.users) allDone();
  };

  const watch = (n: number, session: http2.ClientHttp2Session): void => {
    open++;
    const stream = session.request(watchHeaders);
    streams[n] = stream;
    const reader = new FrameReader();
    let status = "missing";
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    };
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", (chunk: Buffer) => {
      const at = now();
      for (const message of reader.push(chunk)) tally.message(n, message, at);
      if (!queued && tally.heardCount === job.users) {
        queued = true;
        send({ kind: "queued" });
      }
    });
    stream.on("error", () => (status = "stream-error"));
    stream.on("close", () => {
      open--;
      streams[n] = undefined;
      if (stopping) return;
      tally.ended(n, status);
      finish();
    });
    stream.end(watches.body(n));
  };

  const join = (): void => {
    if (next >= job.users || stopping) return;
    const n = next++;
    const session = sessions[n % sessions.length] as http2.ClientHttp2Session;
    const sent = performance.now();
    unary(session, joinHeaders, joins.body(n), (status, message) => {
      if (stopping) return;
      lastJoinAt = now();
      if (tally.joined(n, performance.now() - sent, status, message)) watch(n, session);
      else finish();
      join();
    });
  };

  for (let i = 0; i < Math.min(job.joinsInFlight, job.users); i++) join();
  const ticker = setInterval(() => send({ kind: "progress", joined: tally.joinedCount, admitted: tally.admittedCount, open }), 1000);
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, job.deadlineMs).unref());
  await Promise.race([done, deadline]);
  clearInterval(ticker);
  const ended = now();
  if (finished < job.users) {
    stopping = true;
    tally.fail("not ended by the deadline", job.users - finished);
    for (const stream of streams) stream?.close(http2.constants.NGHTTP2_CANCEL);
  }
  const cpu = process.cpuUsage(cpuStart);
  for (const session of sessions) session.close();
  tally.verifyPasses(parsed.keys, job.eventId, joins.userId);
  const report: OnSaleReport = {
    kind: "report",
    ...tally.summary(),
    sessions: sessions.length,
    joinSeconds: (lastJoinAt - started) / 1000,
    seconds: (ended - started) / 1000,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
  send(report, () => process.exit(0));
}

/** One unary call; `done` gets its grpc-status ("missing", "stream-error") and its one message, if exactly one came. */
function unary(
  session: http2.ClientHttp2Session,
  headers: Record<string, string>,
  body: Buffer,
  done: (status: string, message: Buffer | undefined) => void,
): void {
  const stream = session.request(headers);
  const reader = new FrameReader();
  const messages: Buffer[] = [];
  let status = "missing";
  const take = (h: http2.IncomingHttpHeaders): void => {
    if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
  };
  stream.on("response", take);
  stream.on("trailers", take);
  stream.on("data", (chunk: Buffer) => messages.push(...reader.push(chunk)));
  stream.on("error", () => (status = "stream-error"));
  stream.on("close", () => done(status, messages.length === 1 ? messages[0] : undefined));
  stream.end(body);
}

function send(message: OnSaleClientMessage, then: () => void = () => {}): void {
  process.send?.(message, then);
}

runChild<OnSaleJob>("onsale-client", main);
