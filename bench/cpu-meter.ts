import type { Redis } from "ioredis";
import { cpuMs } from "./children.js";
import { ForeignLoad } from "./foreign-load.js";

/** CPU spent during a measurement, by the server process under test and by Redis. */
export interface CpuSpent {
  readonly serverMs: number;
  readonly redisMs: number;
  /** Share of the machine used meanwhile by processes that are not part of the benchmark (0–1). */
  readonly otherLoad: number;
}

/**
 * Measures CPU time between `start` and `stop`: the server's from /proc (10 ms
 * ticks, fine over seconds-long runs), Redis's from `INFO cpu`. Per call, it
 * shows where the time goes independently of how the two cores were shared.
 */
export class CpuMeter {
  readonly #pid: number;
  readonly #redis: Redis;
  #start: { serverMs: number; redisMs: number } | undefined;
  readonly #foreign = new ForeignLoad();

  constructor(pid: number, redis: Redis) {
    this.#pid = pid;
    this.#redis = redis;
  }

  async start(): Promise<void> {
    this.#start = await this.#sample();
    this.#foreign.start();
  }

  async stop(): Promise<CpuSpent> {
    const otherLoad = this.#foreign.stop();
    const end = await this.#sample();
    const start = this.#start;
    if (!start) throw new Error("CpuMeter.stop() before start()");
    return { serverMs: end.serverMs - start.serverMs, redisMs: end.redisMs - start.redisMs, otherLoad };
  }

  async #sample(): Promise<{ serverMs: number; redisMs: number }> {
    return { serverMs: cpuMs(this.#pid), redisMs: await redisCpuMs(this.#redis) };
  }
}

/** Redis's own CPU time so far (user + system, all threads), in milliseconds. */
export async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const read = (name: string): number => {
    const match = new RegExp(`^${name}:([\\d.]+)`, "m").exec(info);
    if (!match) throw new Error(`INFO cpu has no ${name}`);
    return Number(match[1]) * 1000;
  };
  return read("used_cpu_user") + read("used_cpu_sys");
}

/** What a closed-loop run's report gives its result row. */
interface RunReport {
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly okTotal: number;
  readonly clientCpuUsPerCall: number;
}

/** A run's figures for its result row: rate and latencies (one run: no range yet), and CPU per successful call. */
export function runFigures(report: RunReport, cpu: CpuSpent) {
  return {
    reqPerSec: report.reqPerSec,
    p50Ms: report.p50Ms,
    p99Ms: report.p99Ms,
    serverCpuUs: (cpu.serverMs * 1000) / report.okTotal,
    redisCpuUs: (cpu.redisMs * 1000) / report.okTotal,
    clientCpuUs: report.clientCpuUsPerCall,
    otherLoad: cpu.otherLoad,
    minReqPerSec: report.reqPerSec,
    maxReqPerSec: report.reqPerSec,
  };
}
