/**
 * The change feed's consumers, a process of their own (`feed.ts` starts it):
 * `consumers` Subscribe streams of one group over the gRPC port, each batch
 * acknowledged with one Ack as soon as it arrives. `drain` reads a backlog
 * the benchmark wrote beforehand; `live` reads the changes another instance
 * in mode `joins` makes (Joins over gRPC at a fixed pace, from a process of
 * its own so that making them does not delay reading them), and times each
 * from its ChangeEvent.time (Redis server time) to its arrival here
 * (Date.now(): the same machine clock).
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type ChangeEvent, ChangeFeedService, type GetFeedStatsResponse, SubscribeStart } from "../gen/boxoffice/v1/feed_pb.js";
import type { ClientHttp2Session } from "node:http2";
import { JoinRequestSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { framedRequest, grpcHeaders } from "./grpc-wire.js";
import { connectH2 } from "./h2-client.js";

export interface FeedJob {
  readonly mode: "drain" | "live" | "joins";
  readonly port: number;
  readonly eventId: string;
  readonly group: string;
  readonly consumers: number;
  readonly maxInFlight: number;
  /** `drain`: entries the stream holds; `live`, `joins`: Joins made (the stream holds one entry more). */
  readonly entries: number;
  /** `live`: Joins per second. */
  readonly rate: number;
  readonly deadlineMs: number;
}

export interface FeedStatsSummary {
  readonly length: number;
  readonly pending: number;
  readonly delivered: number;
  readonly acked: number;
  readonly consumers: number;
}

export interface FeedReport {
  /** From the first Subscribe to the last Ack answered. */
  readonly elapsedMs: number;
  /** Distinct entries received, and deliveries in all (more means redeliveries). */
  readonly received: number;
  readonly deliveries: number;
  readonly batches: number;
  readonly acknowledged: number;
  /** `joins`: Joins answered OK and failed; `live`: the change-to-arrival times of their entries, sorted. */
  readonly joinsOk: number;
  readonly joinErrors: number;
  readonly latencyMs: readonly number[];
  /** This process's CPU time from the go to the report. */
  readonly cpuMs: number;
  readonly before: FeedStatsSummary;
  readonly after: FeedStatsSummary;
}

export type FeedClientMessage = { kind: "ready" } | { kind: "report"; report: FeedReport } | { kind: "error"; message: string };

const job = JSON.parse(process.env["BENCH_JOB"] ?? "null") as FeedJob;
const send = (message: FeedClientMessage): Promise<void> =>
  new Promise((resolve) => (process.send ? process.send(message, () => resolve()) : resolve()));

async function main(): Promise<void> {
  const baseUrl = `http://127.0.0.1:${job.port}`;
  const feed = createClient(ChangeFeedService, createGrpcTransport({ baseUrl }));
  const before = summary(await feed.getFeedStats({ eventId: job.eventId }), job.group);
  await send({ kind: "ready" });
  await new Promise<void>((resolve) => process.once("message", () => resolve()));
  const cpuAtGo = process.cpuUsage();
  if (job.mode === "joins") {
    await send({ kind: "report", report: { ...(await joins(await connectH2(job.port), before)), cpuMs: cpuSince(cpuAtGo) } });
    return;
  }

  const stop = new AbortController();
  const seen = new Set<string>();
  const latencyMs: number[] = [];
  const acks: Promise<unknown>[] = [];
  let deliveries = 0;
  let batches = 0;
  let acknowledged = 0;
  const wanted = job.mode === "drain" ? job.entries : job.entries + 1;
  let finish = (): void => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const onBatch = (events: readonly ChangeEvent[]): void => {
    const now = Date.now();
    batches++;
    deliveries += events.length;
    for (const event of events) {
      seen.add(event.id);
      if (job.mode === "live" && event.payload.case === "queueJoined" && event.time) latencyMs.push(now - timestampMs(event.time));
    }
    const ids = events.map((event) => event.id);
    acks.push(feed.ack({ eventId: job.eventId, group: job.group, ids }).then((r) => (acknowledged += r.acknowledged)));
    if (seen.size >= wanted) finish();
  };

  const startedAt = performance.now();
  const consumers = Array.from({ length: job.consumers }, (_, i) =>
    consume(feed, `c${i}`, onBatch, stop.signal).catch((err: unknown) => {
      if (!stop.signal.aborted) throw err;
    }),
  );
  const failed = Promise.race(consumers).then(() => {
    if (!stop.signal.aborted) throw new Error("a Subscribe stream ended before the run did");
  });
  const deadline = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`${seen.size} of ${wanted} entries after ${job.deadlineMs} ms`)), job.deadlineMs).unref(),
  );
  await Promise.race([finished, failed, deadline]);
  await Promise.all(acks);
  const elapsedMs = performance.now() - startedAt;
  stop.abort();
  await Promise.all(consumers);
  // Stats once the service has seen the streams end.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const after = summary(await feed.getFeedStats({ eventId: job.eventId }), job.group);
  latencyMs.sort((a, b) => a - b);
  const report: FeedReport = {
    elapsedMs,
    received: seen.size,
    deliveries,
    batches,
    acknowledged,
    joinsOk: 0,
    joinErrors: 0,
    latencyMs,
    cpuMs: cpuSince(cpuAtGo),
    before,
    after,
  };
  await send({ kind: "report", report });
}

type FeedClient = ReturnType<typeof createClient<typeof ChangeFeedService>>;

async function consume(feed: FeedClient, consumer: string, onBatch: (events: readonly ChangeEvent[]) => void, signal: AbortSignal): Promise<void> {
  const request = {
    eventId: job.eventId,
    group: job.group,
    consumer,
    start: SubscribeStart.BEGINNING,
    maxInFlight: job.maxInFlight,
  };
  for await (const response of feed.subscribe(request, { signal })) onBatch(response.events);
}

/**
 * `job.entries` Joins of new users at `job.rate` a second, released every 5 ms
 * as they come due, over one plain HTTP/2 connection (a connect-node client
 * costs several times the CPU per call, and the process must keep the pace).
 */
async function joins(session: ClientHttp2Session, before: FeedStatsSummary): Promise<FeedReport> {
  let sent = 0;
  let ok = 0;
  let errors = 0;
  const calls: Promise<void>[] = [];
  const start = performance.now();
  while (sent < job.entries) {
    const due = Math.min(job.entries, Math.floor(((performance.now() - start) * job.rate) / 1000));
    for (; sent < due; sent++) {
      calls.push(join(session, `live-${sent}`).then((success) => void (success ? ok++ : errors++)));
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(calls);
  session.close();
  const elapsedMs = performance.now() - start;
  return { elapsedMs, received: 0, deliveries: 0, batches: 0, acknowledged: 0, joinsOk: ok, joinErrors: errors, latencyMs: [], cpuMs: 0, before, after: before };
}

/** One Join; true when it ended with grpc-status 0 after a response message. */
function join(session: ClientHttp2Session, userId: string): Promise<boolean> {
  return new Promise((resolve) => {
    const stream = session.request(grpcHeaders("/boxoffice.v1.QueueService/Join"));
    let status: unknown;
    let bytes = 0;
    stream.on("response", (headers) => (status = headers["grpc-status"] ?? status));
    stream.on("trailers", (trailers) => (status = trailers["grpc-status"]));
    stream.on("data", (chunk: Buffer) => (bytes += chunk.byteLength));
    stream.on("close", () => resolve(status === "0" && bytes > 5));
    stream.on("error", () => resolve(false));
    stream.end(framedRequest(JoinRequestSchema, { eventId: job.eventId, userId }));
  });
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function summary(stats: GetFeedStatsResponse, group: string): FeedStatsSummary {
  const g = stats.groups.find((candidate) => candidate.group === group);
  return {
    length: Number(stats.length),
    pending: Number(g?.pending ?? 0),
    delivered: Number(g?.deliveredTotal ?? 0),
    acked: Number(g?.ackedTotal ?? 0),
    consumers: g?.consumers ?? 0,
  };
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    void send({ kind: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }).finally(() => process.exit(1));
  },
);
