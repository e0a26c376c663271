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
  /** The service's WatchPosition cadence (`off`, or `on: …` with its settings). */
  readonly cadence: string;
  /** Leaves per round, and the pause between two of them. */
  readonly leavesPerRound: number;
  readonly leaveGapMs: number;
  /** Unwatched users between the leaving heads and the first watcher. */
  readonly ahead: number;
  /**
   * Per round: from sending its first Leave until the first / the last stream
   * saw its new position, and from sending its last Leave until the last did;
   * the first Leave's RPC time; the position messages the streams received.
   */
  readonly rounds: ReadonlyArray<{
    readonly firstMs: number;
    readonly lastMs: number;
    readonly afterLastLeaveMs: number;
    readonly leaveMs: number;
    readonly messages: number;
  }>;
  /** Service CPU (all threads) from sending each round's first Leave until every stream was updated, per position message, µs. */
  readonly cpuPerMessageUs: number;
  /** The same per Leave, ms. */
  readonly cpuPerLeaveMs: number;
  /** Position messages per Leave. */
  readonly messagesPerLeave: number;
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
  /** Rounds; `settings.fanoutRounds` when unset. */
  readonly rounds?: number;
  /** Leaves per round, `leaveGapMs` apart (one when unset): a line moving while its watchers watch. */
  readonly leavesPerRound?: number;
  readonly leaveGapMs?: number;
  /** Unwatched users in line between the leaving heads and the watchers (none when unset): watchers far back. */
  readonly ahead?: number;
  /**
   * An existing line to watch at the back of: its event already holds
   * `head-0 … head-<heads-1>` at the front and `ahead` other users behind
   * them. A fresh event is made when unset.
   */
  readonly line?: { readonly eventId: string; readonly ahead: number; readonly label: string };
}

/**
 * Opens `watchers` WatchPosition streams on one event from separate client
 * processes, then, round after round, makes the user at position 1 (never one
 * of the watched) Leave through the service and times how long it takes
 * until every stream has received its position minus one. With several
 * leaves per round, they are paced `leaveGapMs` apart and the round ends
 * once every stream has come to its position minus that many (with the
 * cadence on, far watchers hear some of the steps, near ones each).
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
  const rounds = options.rounds ?? settings.fanoutRounds;
  const perRound = options.leavesPerRound ?? 1;
  const gapMs = options.leaveGapMs ?? 0;
  const heads = rounds * perRound;
  const ahead = options.line?.ahead ?? options.ahead ?? 0;
  const eventId =
    options.line?.eventId ?? `bench-watch-${transport}-${service.watchIntervalMs}-${service.cadence === "off" ? "off" : "on"}-${perRound}-${watchers}-${ctx.runId}`;
  if (!options.line) {
    await ctx.store.configure(eventId, { state: PAUSED });
    // Heads first, one by one (they must be at positions 1…heads), then those ahead and the watchers in parallel.
    for (let i = 0; i < heads; i++) await ctx.store.join(eventId, `head-${i}`);
    await joinAll(ctx, eventId, ahead, "a-");
  }
  await joinAll(ctx, eventId, watchers, "w-");

  const processes = clientCount > 1 ? `, ${clientCount} client processes` : "";
  const paced =
    (perRound > 1 ? `, ${perRound} leaves ${gapMs} ms apart` : "") + (options.line ? `, ${options.line.label}` : ahead > 0 ? `, ${ahead} ahead` : "");
  const cadence = service.cadence === "off" ? "cadence off" : "cadence on";
  const label = `${transport === "grpc" ? "gRPC" : "Connect"} port, WATCH_INTERVAL_MS=${service.watchIntervalMs}, ${cadence}${processes}${paced}`;
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
    const front = heads + ahead;
    if (ready.endedEarly > 0 || ready.minPosition !== front + 1 || ready.maxPosition !== front + watchers) {
      throw new Error(
        `${label}: ${ready.endedEarly} streams ended early (${ready.endReasons.join("; ")}); positions ${ready.minPosition}…${ready.maxPosition}, ` +
          `expected ${front + 1}…${front + watchers}`,
      );
    }
    process.stdout.write(`${Math.round(ready.setupMs)} ms over ${ready.sessions} connections; leaves:`);

    const results: Array<FanoutResult["rounds"][number]> = [];
    const foreign = new ForeignLoad();
    foreign.start();
    let serviceCpuMs = 0;
    let messages = 0;
    for (let round = 0; round < rounds; round++) {
      for (const client of clients) client.send({ kind: "expect", by: perRound });
      await all((client) => client.message(is("armed"), 10_000));
      const updated = all((client) => client.message(is("updated"), 30_000 + perRound * gapMs));
      // Awaited below; a failing Leave must not leave it rejecting unobserved.
      updated.catch(() => {});
      const cpu0 = cpuMs(service.child.pid);
      const t0 = now();
      let leaveMs = 0;
      let tLast = t0;
      for (let i = 0; i < perRound; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + i * gapMs - now())));
        tLast = now();
        const leave = framedRequest(LeaveRequestSchema, { eventId, userId: `head-${round * perRound + i}` });
        await callOk(port, LEAVE, leave.subarray(5), LeaveResponseSchema, 30_000);
        if (i === 0) leaveMs = now() - t0;
      }
      const parts = await updated;
      serviceCpuMs += cpuMs(service.child.pid) - cpu0;
      const wrong = parts.reduce((n, p) => n + p.wrong, 0);
      if (wrong > 0) throw new Error(`${label}: ${wrong} messages with an unexpected position`);
      const firstAt = Math.min(...parts.map((p) => p.firstAt));
      const lastAt = Math.max(...parts.map((p) => p.lastAt));
      const received = parts.reduce((n, p) => n + p.messages, 0);
      messages += received;
      results.push({ firstMs: firstAt - t0, lastMs: lastAt - t0, afterLastLeaveMs: lastAt - tLast, leaveMs, messages: received });
      process.stdout.write(` ${Math.round(lastAt - t0)}`);
    }
    const otherLoad = foreign.stop();
    // Printed here too, so a later scenario that fails does not take these figures with it.
    const perMessageUs = (serviceCpuMs * 1000) / messages;
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
      cadence: service.cadence,
      leavesPerRound: perRound,
      leaveGapMs: gapMs,
      ahead,
      watchers: ready.streams,
      sessions: ready.sessions,
      setupMs: ready.setupMs,
      rssPerStreamKiB: perStreamKiB,
      rssBeforeMiB: rssBefore / 1024 / 1024,
      rssAfterMiB: rssAfter / 1024 / 1024,
      rounds: results,
      cpuPerMessageUs: perMessageUs,
      cpuPerLeaveMs: serviceCpuMs / heads,
      messagesPerLeave: messages / heads,
      otherLoad,
    };
  } finally {
    await all((client) => client.stop("SIGKILL", 0));
  }
}

/** Joins `<prefix>0` … `<prefix><count-1>` in parallel batches (one pipelined round trip per batch). */
async function joinAll(ctx: BenchContext, eventId: string, count: number, prefix: string): Promise<void> {
  const batch = 2_000;
  for (let start = 0; start < count; start += batch) {
    const end = Math.min(count, start + batch);
    const results = await Promise.all(
      Array.from({ length: end - start }, (_, i) => ctx.store.join(eventId, `${prefix}${start + i}`)),
    );
    const bad = results.find((r) => r.kind !== "joined");
    if (bad) throw new Error(`joining watchers of ${eventId}: ${bad.kind}`);
  }
}
