import { LeaveRequestSchema, LeaveResponseSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { cpuMs, rssBytes } from "./children.js";
import { type BenchContext, PAUSED } from "./context.js";
import { ForeignLoad } from "./foreign-load.js";
import { framedRequest } from "./grpc-wire.js";
import { callOk } from "./h2-unary.js";
import type { ServiceProcess } from "./service.js";
import type { WatchClientMessage, WatchJob } from "./watch-client.js";

const LEAVE = "/boxoffice.v1.QueueService/Leave";
const now = (): number => performance.timeOrigin + performance.now();

export interface FanoutResult {
  readonly label: string;
  readonly watchIntervalMs: number;
  readonly watchers: number;
  readonly sessions: number;
  /** From starting the client until every stream had its first message. */
  readonly setupMs: number;
  /** Service RSS growth while the streams opened, per stream. */
  readonly rssPerStreamKiB: number;
  readonly rssBeforeMiB: number;
  readonly rssAfterMiB: number;
  /** Per Leave: from sending it until the first / the last stream saw its new position. */
  readonly rounds: ReadonlyArray<{ readonly firstMs: number; readonly lastMs: number; readonly leaveMs: number }>;
  /** Service CPU (all threads) from sending each Leave until every stream was updated, per position message, µs. */
  readonly cpuPerMessageUs: number;
  /** Share of the machine other processes used during the rounds (0–1). */
  readonly otherLoad: number;
}

type Msg<K extends WatchClientMessage["kind"]> = Extract<WatchClientMessage, { kind: K }>;
const is =
  <K extends WatchClientMessage["kind"]>(kind: K) =>
  (m: unknown): m is Msg<K> =>
    (m as { kind?: string })?.kind === kind;

/**
 * Opens `watchers` WatchPosition streams on one event from a separate
 * process, then, round after round, makes the user at position 1 (never one
 * of the watched) Leave through the service and times how long it takes
 * until every stream has received its position minus one.
 */
export async function runFanout(
  ctx: BenchContext,
  service: ServiceProcess,
  transport: "grpc" | "connect",
): Promise<FanoutResult> {
  const { settings } = ctx;
  const port = transport === "grpc" ? service.grpcPort : service.connectPort;
  const eventId = `bench-watch-${transport}-${service.watchIntervalMs}-${ctx.runId}`;
  const rounds = settings.fanoutRounds;
  await ctx.store.configure(eventId, { state: PAUSED });
  // Heads first, one by one (they must be at positions 1…rounds), then the watchers in parallel.
  for (let i = 0; i < rounds; i++) await ctx.store.join(eventId, `head-${i}`);
  await joinAll(ctx, eventId, settings.watchers);

  const label = `${transport === "grpc" ? "gRPC" : "Connect"} port, WATCH_INTERVAL_MS=${service.watchIntervalMs}`;
  process.stdout.write(`  ${label}: `);
  await ctx.quiet.wait();
  process.stdout.write(`opening ${settings.watchers} streams … `);
  const rssBefore = rssBytes(service.child.pid);
  const job: WatchJob = {
    port,
    eventId,
    userPrefix: "w-",
    first: 0,
    count: settings.watchers,
    sessions: settings.watchSessions,
  };
  const client = ctx.children.node(`watch-client (${label})`, "bench/watch-client.ts", {
    env: { BENCH_JOB: JSON.stringify(job) },
  });
  try {
    const ready = await client.message(is("ready"), 180_000);
    const rssAfter = rssBytes(service.child.pid);
    if (ready.endedEarly > 0 || ready.minPosition !== rounds + 1 || ready.maxPosition !== rounds + settings.watchers) {
      throw new Error(
        `${label}: ${ready.endedEarly} streams ended early; positions ${ready.minPosition}…${ready.maxPosition}, ` +
          `expected ${rounds + 1}…${rounds + settings.watchers}`,
      );
    }
    process.stdout.write(`${Math.round(ready.setupMs)} ms over ${ready.sessions} connections; leaves:`);

    const results: Array<{ firstMs: number; lastMs: number; leaveMs: number }> = [];
    const foreign = new ForeignLoad();
    foreign.start();
    let serviceCpuMs = 0;
    for (let round = 0; round < rounds; round++) {
      client.send({ kind: "expect" });
      await client.message(is("armed"), 10_000);
      const updated = client.message(is("updated"), 30_000);
      // Awaited below; a failing Leave must not leave it rejecting unobserved.
      updated.catch(() => {});
      const cpu0 = cpuMs(service.child.pid);
      const t0 = now();
      const leave = framedRequest(LeaveRequestSchema, { eventId, userId: `head-${round}` });
      await callOk(port, LEAVE, leave.subarray(5), LeaveResponseSchema, 30_000);
      const leaveMs = now() - t0;
      const result = await updated;
      serviceCpuMs += cpuMs(service.child.pid) - cpu0;
      if (result.wrong > 0) throw new Error(`${label}: ${result.wrong} messages with an unexpected position`);
      results.push({ firstMs: result.firstAt - t0, lastMs: result.lastAt - t0, leaveMs });
      process.stdout.write(` ${Math.round(result.lastAt - t0)}`);
    }
    const otherLoad = foreign.stop();
    process.stdout.write(" ms\n");

    client.send({ kind: "close" });
    const closed = await client.message(is("closed"), 30_000);
    if (closed.endedEarly > 0) throw new Error(`${label}: ${closed.endedEarly} streams ended before the client closed them`);
    await client.exited;
    return {
      label,
      watchIntervalMs: service.watchIntervalMs,
      watchers: ready.streams,
      sessions: ready.sessions,
      setupMs: ready.setupMs,
      rssPerStreamKiB: (rssAfter - rssBefore) / 1024 / ready.streams,
      rssBeforeMiB: rssBefore / 1024 / 1024,
      rssAfterMiB: rssAfter / 1024 / 1024,
      rounds: results,
      cpuPerMessageUs: (serviceCpuMs * 1000) / (rounds * ready.streams),
      otherLoad,
    };
  } finally {
    await client.stop("SIGKILL", 0);
  }
}

/** Joins `w-0` … `w-<count-1>` in parallel batches (one pipelined round trip per batch). */
async function joinAll(ctx: BenchContext, eventId: string, count: number): Promise<void> {
  const batch = 2_000;
  for (let start = 0; start < count; start += batch) {
    const end = Math.min(count, start + batch);
    const results = await Promise.all(
      Array.from({ length: end - start }, (_, i) => ctx.store.join(eventId, `w-${start + i}`)),
    );
    const bad = results.find((r) => r.kind !== "joined");
    if (bad) throw new Error(`joining watchers of ${eventId}: ${bad.kind}`);
  }
}
