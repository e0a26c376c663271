import { readdirSync, readFileSync } from "node:fs";
import { type BenchContext, PAUSED } from "./context.js";
import { CpuMeter } from "./cpu-meter.js";
import type { OpenLoopCommand, OpenLoopJob, OpenLoopMessage, PacedReport, SaturationReport } from "./open-loop-client.js";
import type { ServiceProcess } from "./service.js";

export interface PacedLevel {
  /** Share of the saturated rate (0–1). */
  readonly share: number;
  readonly report: PacedReport;
  /** CPU of the service and of Redis over the measured window: in cores, and per answered call (µs). */
  readonly serverCores: number;
  readonly redisCores: number;
  readonly serverCpuUs: number;
  readonly redisCpuUs: number;
  /**
   * Time the threads of the service and of the generator spent runnable but
   * waiting for a core (each thread's `schedstat` in /proc), per second of the window:
   * on a crowded machine this, not the service's work, is where latency goes.
   */
  readonly serverRunQueue: number;
  readonly generatorRunQueue: number;
  readonly otherLoad: number;
}

export interface PacedResult {
  readonly saturation: SaturationReport & { readonly otherLoad: number };
  readonly levels: readonly PacedLevel[];
}

type Msg<K extends OpenLoopMessage["kind"]> = Extract<OpenLoopMessage, { kind: K }>;
const is =
  <K extends OpenLoopMessage["kind"]>(kind: K) =>
  (m: unknown): m is Msg<K> =>
    (m as { kind?: string })?.kind === kind;

/**
 * Join latency under a steady load, from one open-loop generator process
 * (`open-loop-client.ts`) on the gRPC port: first its closed-loop maximum
 * (the saturation of the moment), then fixed arrival rates at
 * `settings.pacedLevels` of it. Every level joins new users on an event of
 * its own, whose `joined_total` must equal the generator's successful calls.
 */
export async function runPaced(ctx: BenchContext, service: ServiceProcess): Promise<PacedResult> {
  const { settings } = ctx;
  const job: OpenLoopJob = { port: service.grpcPort, sessions: settings.pacedSessions };
  const client = ctx.children.node("open-loop-client", "bench/open-loop-client.ts", { env: { BENCH_JOB: JSON.stringify(job) } });
  const timeoutMs = (settings.warmupSeconds + settings.pacedSeconds) * 1000 + 60_000;
  let phase = 0;
  const event = async (): Promise<string> => {
    const eventId = `bench-paced-${ctx.runId}-${++phase}`;
    await ctx.store.configure(eventId, { state: PAUSED });
    return eventId;
  };
  /** Runs one phase, with the service's and Redis's CPU metered over its measured window. */
  const run = async <R extends SaturationReport | PacedReport>(command: OpenLoopCommand, accept: (m: unknown) => m is R) => {
    const meter = new CpuMeter(service.child.pid, ctx.redis);
    const queued = { server: 0, generator: 0 };
    const measuring = client.message(is("measuring"), timeoutMs);
    const measured = client.message(is("measured"), timeoutMs);
    const report = client.message(accept, timeoutMs + 30_000);
    for (const p of [measuring, measured, report]) p.catch(() => {});
    client.send(command);
    await measuring;
    await meter.start();
    queued.server = -runQueueMs(service.child.pid);
    queued.generator = -runQueueMs(client.pid);
    await measured;
    queued.server += runQueueMs(service.child.pid);
    queued.generator += runQueueMs(client.pid);
    const cpu = await meter.stop();
    return { report: await report, cpu, queued };
  };
  // UNAVAILABLE (a Redis command timeout on a crowded machine) is counted and reported, not fatal:
  // such a Join may have taken effect. Any other failure, or a count that disagrees, is.
  const check = async (eventId: string, okTotal: number, failures: Readonly<Record<string, number>>, what: string): Promise<void> => {
    const stats = await ctx.store.stats(eventId);
    const joined = stats.kind === "stats" ? stats.stats.joinedTotal : -1;
    const unavailable = failures["14"] ?? 0;
    const others = Object.keys(failures).filter((code) => code !== "14");
    if (others.length > 0 || joined < okTotal || joined > okTotal + unavailable) {
      throw new Error(`${what}: failures ${JSON.stringify(failures)}, joined_total ${joined} vs ${okTotal} successful calls (+ ${unavailable} UNAVAILABLE)`);
    }
  };

  try {
    await client.message(is("ready"), 30_000);
    await ctx.quiet.wait();
    process.stdout.write(`  saturation (closed loop, ${settings.pacedSessions} × ${settings.pacedStreams} in flight) … `);
    const satEvent = await event();
    const sat = await run(
      { kind: "saturate", eventId: satEvent, userPrefix: "s", streamsPerSession: settings.pacedStreams, warmupSeconds: settings.warmupSeconds, seconds: settings.pacedSeconds },
      is("saturated"),
    );
    await check(satEvent, sat.report.okTotal, sat.report.failures, "saturation run");
    process.stdout.write(`${Math.round(sat.report.reqPerSec)} req/s, generator ${sat.report.generatorCores.toFixed(2)} cores\n`);

    const levels: PacedLevel[] = [];
    for (const share of settings.pacedLevels) {
      const rate = share * sat.report.reqPerSec;
      process.stdout.write(`  open loop at ${Math.round(share * 100)}% (${Math.round(rate)}/s) … `);
      await ctx.quiet.wait();
      const eventId = await event();
      const { report, cpu, queued } = await run(
        { kind: "pace", eventId, userPrefix: "p", rate, warmupSeconds: settings.warmupSeconds, seconds: settings.pacedSeconds },
        is("paced"),
      );
      await check(eventId, report.okTotal, report.failures, `paced run at ${Math.round(rate)}/s`);
      if (report.unanswered > 0) throw new Error(`paced run at ${Math.round(rate)}/s: ${report.unanswered} calls unanswered`);
      const calls = report.achievedRate * settings.pacedSeconds;
      const failed = Object.values(report.failures).reduce((n, c) => n + c, 0);
      if (failed > 0) process.stdout.write(`${failed} UNAVAILABLE, `);
      process.stdout.write(`p99 ${report.p99Ms.toFixed(1)} ms, p99.9 ${report.p999Ms.toFixed(1)} ms, generator ${report.generatorCores.toFixed(2)} cores\n`);
      levels.push({
        share,
        report,
        serverCores: cpu.serverMs / 1000 / settings.pacedSeconds,
        redisCores: cpu.redisMs / 1000 / settings.pacedSeconds,
        serverCpuUs: (cpu.serverMs * 1000) / calls,
        redisCpuUs: (cpu.redisMs * 1000) / calls,
        serverRunQueue: queued.server / 1000 / settings.pacedSeconds,
        generatorRunQueue: queued.generator / 1000 / settings.pacedSeconds,
        otherLoad: cpu.otherLoad,
      });
    }
    client.send({ kind: "close" } satisfies OpenLoopCommand);
    await client.exited;
    return { saturation: { ...sat.report, otherLoad: sat.cpu.otherLoad }, levels };
  } finally {
    await client.stop("SIGKILL", 0);
  }
}

/** Time all threads of `pid` have spent runnable, waiting for a core, in ms (Linux schedstat, ns). */
function runQueueMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[1]);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return ns / 1e6;
}
