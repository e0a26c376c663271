import { LeaveRequestSchema, LeaveResponseSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { type Child, cpuMs, rssBytes } from "./children.js";
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

/** What a fan-out run may change from the settings. */
export interface FanoutOptions {
  /** Streams to open; `settings.watchers` when unset. */
  readonly watchers?: number;
  /** Client processes sharing them (one when unset): one Node process stops scaling well past 10,000 streams. */
  readonly clients?: number;
  /** Streams each client process keeps waiting for their first message at a time (all at once when unset). */
  readonly maxOpening?: number;
  /**
   * An existing line to watch at the back of: its event already holds
   * `head-0 … head-<rounds-1>` at the front and `ahead` other users behind
   * them. A fresh event holding the heads alone when unset.
   */
  readonly line?: { readonly eventId: string; readonly ahead: number; readonly label: string };
}

/**
 * Opens `watchers` WatchPosition streams on one event from separate client
 * processes, then, round after round, makes the user at position 1 (never one
 * of the watched) Leave through the service and times how long it takes
 * until every stream has received its position minus one.
 */
export async function runFanout(
  ctx: BenchContext,
  service: ServiceProcess,
  transport: "grpc" | "connect",
  options: FanoutOptions = {},
): Promise<FanoutResult> {
  const { settings } = ctx;
  const watchers = options.watchers ?? settings.watchers;
  const clientCount = Math.min(watchers, options.clients ?? 1);
  const port = transport === "grpc" ? service.grpcPort : service.connectPort;
  const eventId = options.line?.eventId ?? `bench-watch-${transport}-${service.watchIntervalMs}-${watchers}-${ctx.runId}`;
  const ahead = options.line?.ahead ?? 0;
  const rounds = settings.fanoutRounds;
  if (!options.line) {
    await ctx.store.configure(eventId, { state: PAUSED });
    // Heads first, one by one (they must be at positions 1…rounds), then the watchers in parallel.
    for (let i = 0; i < rounds; i++) await ctx.store.join(eventId, `head-${i}`);
  }
  await joinAll(ctx, eventId, watchers);

  const processes = clientCount > 1 ? `, ${clientCount} client processes` : "";
  const behind = options.line ? `, ${options.line.label}` : "";
  const label = `${transport === "grpc" ? "gRPC" : "Connect"} port, WATCH_INTERVAL_MS=${service.watchIntervalMs}${processes}${behind}`;
  process.stdout.write(`  ${label}: `);
  await ctx.quiet.wait();
  process.stdout.write(`opening ${watchers} streams … `);
  const rssBefore = rssBytes(service.child.pid);
  const share = Math.ceil(watchers / clientCount);
  const clients = Array.from({ length: clientCount }, (_, c) => {
    const job: WatchJob = {
      port,
      eventId,
      userPrefix: "w-",
      first: c * share,
      count: Math.min(share, watchers - c * share),
      sessions: Math.max(2, Math.ceil(settings.watchSessions / clientCount)),
      ...(options.maxOpening === undefined ? {} : { maxOpening: options.maxOpening }),
    };
    return ctx.children.node(`watch-client ${c + 1}/${clientCount} (${label})`, "bench/watch-client.ts", {
      env: { BENCH_JOB: JSON.stringify(job) },
    });
  });
  const all = <T>(each: (client: Child) => Promise<T>): Promise<T[]> => Promise.all(clients.map(each));
  try {
    const readies = await all((client) => client.message(is("ready"), 180_000 * Math.max(1, watchers / 10_000)));
    const rssAfter = rssBytes(service.child.pid);
    const ready = {
      endedEarly: readies.reduce((n, r) => n + r.endedEarly, 0),
      endReasons: readies.flatMap((r) => Object.entries(r.endReasons)).map(([reason, n]) => `${n} × ${reason}`),
      minPosition: Math.min(...readies.map((r) => r.minPosition)),
      maxPosition: Math.max(...readies.map((r) => r.maxPosition)),
      streams: readies.reduce((n, r) => n + r.streams, 0),
      sessions: readies.reduce((n, r) => n + r.sessions, 0),
      setupMs: Math.max(...readies.map((r) => r.setupMs)),
    };
    const [firstPosition, lastPosition] = [rounds + ahead + 1, rounds + ahead + watchers];
    if (ready.endedEarly > 0 || ready.minPosition !== firstPosition || ready.maxPosition !== lastPosition) {
      throw new Error(
        `${label}: ${ready.endedEarly} streams ended early (${ready.endReasons.join("; ")}); positions ${ready.minPosition}…${ready.maxPosition}, ` +
          `expected ${firstPosition}…${lastPosition}`,
      );
    }
    process.stdout.write(`${Math.round(ready.setupMs)} ms over ${ready.sessions} connections; leaves:`);

    const results: Array<{ firstMs: number; lastMs: number; leaveMs: number }> = [];
    const foreign = new ForeignLoad();
    foreign.start();
    let serviceCpuMs = 0;
    for (let round = 0; round < rounds; round++) {
      for (const client of clients) client.send({ kind: "expect" });
      await all((client) => client.message(is("armed"), 10_000));
      const updated = all((client) => client.message(is("updated"), 30_000));
      // Awaited below; a failing Leave must not leave it rejecting unobserved.
      updated.catch(() => {});
      const cpu0 = cpuMs(service.child.pid);
      const t0 = now();
      const leave = framedRequest(LeaveRequestSchema, { eventId, userId: `head-${round}` });
      await callOk(port, LEAVE, leave.subarray(5), LeaveResponseSchema, 30_000);
      const leaveMs = now() - t0;
      const parts = await updated;
      serviceCpuMs += cpuMs(service.child.pid) - cpu0;
      const wrong = parts.reduce((n, p) => n + p.wrong, 0);
      if (wrong > 0) throw new Error(`${label}: ${wrong} messages with an unexpected position`);
      const firstAt = Math.min(...parts.map((p) => p.firstAt));
      const lastAt = Math.max(...parts.map((p) => p.lastAt));
      results.push({ firstMs: firstAt - t0, lastMs: lastAt - t0, leaveMs });
      process.stdout.write(` ${Math.round(lastAt - t0)}`);
    }
    const otherLoad = foreign.stop();
    // Printed here too, so a later scenario that fails does not take these figures with it.
    const perMessageUs = (serviceCpuMs * 1000) / (rounds * ready.streams);
    const perStreamKiB = (rssAfter - rssBefore) / 1024 / ready.streams;
    process.stdout.write(` ms; ${perMessageUs.toFixed(1)} µs service CPU/msg, ${perStreamKiB.toFixed(1)} KiB RSS/stream, other load ${Math.round(otherLoad * 100)}%\n`);

    for (const client of clients) client.send({ kind: "close" });
    const closed = await all((client) => client.message(is("closed"), 30_000));
    const endedEarly = closed.reduce((n, c) => n + c.endedEarly, 0);
    if (endedEarly > 0) throw new Error(`${label}: ${endedEarly} streams ended before the client closed them`);
    await all((client) => client.exited);
    return {
      label,
      watchIntervalMs: service.watchIntervalMs,
      watchers: ready.streams,
      sessions: ready.sessions,
      setupMs: ready.setupMs,
      rssPerStreamKiB: perStreamKiB,
      rssBeforeMiB: rssBefore / 1024 / 1024,
      rssAfterMiB: rssAfter / 1024 / 1024,
      rounds: results,
      cpuPerMessageUs: perMessageUs,
      otherLoad,
    };
  } finally {
    await all((client) => client.stop("SIGKILL", 0));
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
