import { readdirSync, readFileSync } from "node:fs";

/**
 * How busy the machine was with processes that are not ours: all CPU time
 * (/proc/stat) minus the CPU time of this process tree. On a shared 2-core
 * machine this says which measurements were disturbed.
 *
 * Our tree's time is each live descendant's own time plus its reaped
 * children's (`cutime`/`cstime`), so a child that exits between two samples
 * (an h2load run) moves from its own counters into its parent's.
 */
export class ForeignLoad {
  #start: Sample | undefined;

  start(): void {
    this.#start = sample();
  }

  /** Share of the machine's total CPU capacity used by others since `start` (0–1). */
  stop(): number {
    const start = this.#start;
    if (!start) throw new Error("ForeignLoad.stop() before start()");
    const end = sample();
    const capacity = end.total - start.total;
    const busy = capacity - (end.idle - start.idle);
    const ours = end.ours - start.ours;
    return capacity > 0 ? Math.max(0, (busy - ours) / capacity) : 0;
  }
}

interface Sample {
  /** All CPUs, in clock ticks. */
  readonly total: number;
  readonly idle: number;
  /** This process tree, in clock ticks. */
  readonly ours: number;
}

function sample(): Sample {
  const cpu = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, idle, ours: treeTicks(process.pid) };
}

/** Clock ticks used by `root` and every live descendant, with their reaped children. */
function treeTicks(root: number): number {
  const parents = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // Fields after "(comm) ": state ppid … utime(14) stime(15) cutime(16) cstime(17).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pid = Number(entry);
    parents.set(pid, Number(fields[1]));
    ticks.set(pid, Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]));
  }
  let sum = 0;
  for (const [pid, used] of ticks) {
    for (let at: number | undefined = pid; at !== undefined && at > 1; at = parents.get(at)) {
      if (at === root) {
        sum += used;
        break;
      }
    }
  }
  return sum;
}

/**
 * Keeps measurements clear of other processes on a shared machine: waits
 * before each one until others use under `threshold` of the CPU (sampled over
 * half a second), and measures again when others used more than that during
 * the run. Waiting and re-running together spend at most `budgetMs` over the
 * whole benchmark; after that, measurements are kept as they come and their
 * "other load" column tells.
 */
export class QuietWindow {
  #budgetMs: number;
  readonly #threshold: number;

  constructor(budgetMs: number, threshold = 0.1) {
    this.#budgetMs = budgetMs;
    this.#threshold = threshold;
  }

  /** Runs `run` in a quiet moment, again while it was disturbed and the budget lasts. */
  async measure<R extends { readonly otherLoad: number }>(run: () => Promise<R>): Promise<R> {
    for (;;) {
      await this.wait();
      const started = Date.now();
      const result = await run();
      if (result.otherLoad < this.#threshold * 1.5 || this.#budgetMs <= 0) return result;
      this.#budgetMs -= Date.now() - started;
      process.stdout.write(`[disturbed: others used ${Math.round(result.otherLoad * 100)}% of the CPU; again] `);
    }
  }

  /** Waits until other processes calm down, or the budget is gone. */
  async wait(): Promise<void> {
    let announced = false;
    while (this.#budgetMs > 0) {
      const started = Date.now();
      const probe = new ForeignLoad();
      probe.start();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const load = probe.stop();
      this.#budgetMs -= Date.now() - started;
      if (load < this.#threshold) return;
      if (!announced) {
        process.stdout.write(`[waiting: others use ${Math.round(load * 100)}% of the CPU] `);
        announced = true;
      }
    }
  }
}
