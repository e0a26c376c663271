import { cpuMs, rssBytes } from "./children.js";

/**
 * Samples a process's CPU time and RSS every second (Linux /proc). A Node
 * server whose main thread is saturated shows as ≈ 1 core over and over (a
 * little more with its helper threads): the busiest second says more than
 * the average over a run that also has quiet stretches.
 */
export class UsageSampler {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  readonly #cores: number[] = [];
  #lastCpuMs: number;
  #lastAt: number;
  #peakRss: number;

  constructor(pid: number, everyMs = 1000) {
    this.#pid = pid;
    this.#lastCpuMs = cpuMs(pid);
    this.#lastAt = performance.now();
    this.#peakRss = rssBytes(pid);
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }

  /** Cores used in each interval so far (CPU seconds per second). */
  get cores(): readonly number[] {
    return this.#cores;
  }

  get peakCores(): number {
    return Math.max(0, ...this.#cores);
  }

  get peakRssBytes(): number {
    return this.#peakRss;
  }

  /** Takes a last sample and stops. */
  stop(): void {
    clearInterval(this.#timer);
    this.#sample();
  }

  #sample(): void {
    const at = performance.now();
    const cpu = cpuMs(this.#pid);
    // /proc counts in 10 ms ticks: skip a sliver of an interval rather than report noise.
    if (at - this.#lastAt >= 500) {
      this.#cores.push((cpu - this.#lastCpuMs) / (at - this.#lastAt));
      this.#lastCpuMs = cpu;
      this.#lastAt = at;
    }
    this.#peakRss = Math.max(this.#peakRss, rssBytes(this.#pid));
  }
}
