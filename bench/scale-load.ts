/**
 * One measured run of the scale-out scenarios: several load generators
 * (`join-client.ts` or `seat-client.ts`, each its own process) started at
 * once against one or more service processes, with the CPU of every process
 * involved read around it — each service from /proc, each Redis node from
 * `INFO cpu`, each load generator from its own report — and the FCALLs each
 * Redis node served (`INFO commandstats`), so per-shard rates need no guess
 * about where an event's slot lives.
 */
import type { Redis } from "ioredis";
import { type Child, type ChildSet, cpuMs } from "./children.js";
import { redisCpuMs } from "./cpu-meter.js";
import { ForeignLoad } from "./foreign-load.js";
import type { JoinLoadJob, JoinLoadReport } from "./join-client.js";
import type { SeatLoadJob, SeatLoadReport } from "./seat-client.js";

/** One load generator of a run. */
export type LoadPart =
  | { readonly kind: "join"; readonly job: JoinLoadJob }
  | { readonly kind: "seat"; readonly job: SeatLoadJob };

/** A Redis server whose CPU and FCALLs a run reads (a single node, or each node of a cluster). */
export interface RedisNode {
  readonly name: string;
  readonly redis: Redis;
}

export interface NodeUsage {
  readonly name: string;
  /** Cores used (CPU seconds per wall second while every generator was in its measured window). */
  readonly cores: number;
  /** FCALL and FCALL_RO served per wall second. */
  readonly fcallsPerSec: number;
}

export interface GroupResult {
  /** Sum of the generators' measured-window rates of successful calls. */
  readonly reqPerSec: number;
  /** Each generator's rate, in the order of the parts. */
  readonly perPart: readonly number[];
  /** The worst of the generators' p50 and p99. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Successful calls over the whole run, warm-up included, and the failures by grpc-status. */
  readonly okTotal: number;
  readonly failures: Readonly<Record<string, number>>;
  /** Cores used by each service process and by each Redis node while every generator measured, and by the load generators together. */
  readonly serviceCores: readonly number[];
  readonly redis: readonly NodeUsage[];
  readonly clientCores: number;
  /** Share of the machine other processes used meanwhile (0–1). */
  readonly otherLoad: number;
  /** A generator ran out of prepared requests before its time was up. */
  readonly exhausted: boolean;
  readonly reports: ReadonlyArray<JoinLoadReport | SeatLoadReport>;
}

/** Runs the parts at once and meters them; failures are counted by grpc-status for the caller to judge. */
export async function runGroup(
  children: ChildSet,
  parts: readonly LoadPart[],
  servicePids: readonly number[],
  nodes: readonly RedisNode[],
): Promise<GroupResult> {
  // The meters run from the moment every generator is in its measured window to the moment the first one leaves it.
  let started = 0;
  let ended = false;
  let windowStart: Promise<Sample> | undefined;
  let windowEnd: Promise<Sample> | undefined;
  const foreign = new ForeignLoad();
  const sample = async (): Promise<Sample> => {
    const at = performance.now();
    const services = servicePids.map(cpuMs);
    return { at, services, nodes: await Promise.all(nodes.map((n) => nodeSample(n.redis))) };
  };
  const onWindow = (phase: "start" | "end"): void => {
    if (phase === "start" && ++started === parts.length) {
      foreign.start();
      windowStart = sample();
    } else if (phase === "end" && !ended && started === parts.length) {
      ended = true;
      windowEnd = windowStart?.then(() => {
        otherLoad = foreign.stop();
        return sample();
      });
    }
  };
  let otherLoad = 0;
  // Each generator connects, says ready, and waits for the go every one of them gets at once.
  const launched: Child[] = [];
  let ready = 0;
  const reports = await Promise.all(
    parts.map(async (part, i) => {
      const entry = part.kind === "join" ? "bench/join-client.ts" : "bench/seat-client.ts";
      const job = { ...part.job, startTogether: true };
      const child = children.node(`${part.kind}-client ${i}`, entry, { env: { BENCH_JOB: JSON.stringify(job) } });
      launched.push(child);
      child.process.on("message", (m: { kind?: string; phase?: "start" | "end" }) => {
        if (m?.kind === "window" && m.phase) onWindow(m.phase);
        if (m?.kind === "ready" && ++ready === parts.length) for (const c of launched) c.send({ kind: "go" });
      });
      const timeoutMs = (part.job.seconds + part.job.warmupSeconds) * 1000 + 120_000;
      const report = await child.message(
        (m): m is JoinLoadReport | SeatLoadReport => (m as { kind?: string })?.kind === "report",
        timeoutMs,
      );
      await child.exited;
      return report;
    }),
  );
  if (!windowStart) throw new Error("a load generator never started its measured window");
  // A generator that ran out before the last one started: the meters run until all are done.
  windowEnd ??= windowStart.then(() => {
    otherLoad = foreign.stop();
    return sample();
  });
  const [before, after] = await Promise.all([windowStart, windowEnd]);
  const wallMs = after.at - before.at;
  const serviceCores = servicePids.map((_, i) => ((after.services[i] ?? 0) - (before.services[i] ?? 0)) / wallMs);

  const failures: Record<string, number> = {};
  for (const report of reports) {
    const all = "failuresTotal" in report ? report.failuresTotal : report.failures;
    for (const [status, count] of Object.entries(all)) failures[status] = (failures[status] ?? 0) + count;
  }
  return {
    reqPerSec: reports.reduce((sum, r) => sum + okPerSec(r), 0),
    perPart: reports.map(okPerSec),
    p50Ms: Math.max(...reports.map((r) => r.p50Ms)),
    p99Ms: Math.max(...reports.map((r) => r.p99Ms)),
    okTotal: reports.reduce((sum, r) => sum + r.okTotal, 0),
    failures,
    serviceCores,
    redis: nodes.map((n, i) => ({
      name: n.name,
      cores: ((after.nodes[i]?.cpuMs ?? 0) - (before.nodes[i]?.cpuMs ?? 0)) / wallMs,
      fcallsPerSec: (((after.nodes[i]?.fcalls ?? 0) - (before.nodes[i]?.fcalls ?? 0)) * 1000) / wallMs,
    })),
    // A generator's CPU per call over its measured window, at its rate: its cores.
    clientCores: reports.reduce((sum, r) => sum + (r.clientCpuUsPerCall * r.reqPerSec) / 1e6, 0),
    otherLoad,
    exhausted: reports.some((r) => r.exhausted),
    reports,
  };
}

/** Successful calls per second of a generator's measured window. */
const okPerSec = (r: JoinLoadReport | SeatLoadReport): number => (r.done > 0 ? (r.reqPerSec * r.ok) / r.done : 0);

interface Sample {
  readonly at: number;
  readonly services: readonly number[];
  readonly nodes: ReadonlyArray<{ readonly cpuMs: number; readonly fcalls: number }>;
}

async function nodeSample(redis: Redis): Promise<{ cpuMs: number; fcalls: number }> {
  const [cpu, stats] = await Promise.all([redisCpuMs(redis), redis.info("commandstats")]);
  let fcalls = 0;
  for (const match of stats.matchAll(/^cmdstat_(fcall|fcall_ro):calls=(\d+),/gm)) fcalls += Number(match[2]);
  return { cpuMs: cpu, fcalls };
}

/** The single-threaded part that used the most CPU in a run (a service process or a Redis node) and its cores. */
export function busiest(result: GroupResult): { readonly name: string; readonly cores: number } {
  const parts = [
    ...result.serviceCores.map((cores, i) => ({ name: result.serviceCores.length > 1 ? `service ${i + 1}` : "service", cores })),
    ...result.redis.map((n) => ({ name: n.name, cores: n.cores })),
  ];
  return parts.reduce((a, b) => (b.cores > a.cores ? b : a));
}

/**
 * The rate at which the busiest service process or Redis node would use one
 * whole core, the others growing in step: where the layout tops out on a
 * machine with a core for each of them (a Node service or a Redis server runs
 * its work on one main thread). On a shared machine, the CPU per call is what
 * carries over; the rate itself follows whatever share of the cores it got.
 */
export function ceiling(result: GroupResult): number {
  const top = busiest(result);
  return top.cores > 0 ? result.reqPerSec / top.cores : Number.NaN;
}

/**
 * Where a run's limit was: the busiest single-threaded part, or the load
 * generators when each of them used more; and whether the machine as a whole
 * (ours and everyone else's processes) was full.
 */
export function bottleneck(result: GroupResult, cores: number): string {
  const top = busiest(result);
  const perClient = result.clientCores / Math.max(1, result.reports.length);
  const name = perClient > top.cores ? `load generators at ${perClient.toFixed(2)} core each` : `${top.name} at ${top.cores.toFixed(2)} core`;
  const ours = result.serviceCores.reduce((a, b) => a + b, 0) + result.redis.reduce((a, n) => a + n.cores, 0) + result.clientCores;
  const others = result.otherLoad * cores;
  if (ours + others < 0.85 * cores) return name;
  return `machine full (${(ours + others).toFixed(1)} of ${cores} cores, ${others.toFixed(1)} others'); busiest: ${name}`;
}

/** "12 ok; 3 × 14" — the failures of a run, for its error message. */
export function failureText(result: GroupResult): string {
  return `${result.okTotal} ok; failures by grpc-status ${JSON.stringify(result.failures)}`;
}

export const JOIN_PATH = "/boxoffice.v1.QueueService/Join";
