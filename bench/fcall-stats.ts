import type { Redis } from "ioredis";
import { table } from "./report.js";

/** `calls` and `usec` of one command in `INFO commandstats`. */
interface CommandStat {
  readonly calls: number;
  readonly usec: number;
}

type Snapshot = ReadonlyMap<string, CommandStat>;

/** FCALL and FCALL_RO as Redis counted them during one scenario. */
export interface FcallRow {
  readonly scenario: string;
  readonly fcall: CommandStat;
  readonly fcallRo: CommandStat;
}

/**
 * Redis's own time per function call, per scenario, from `INFO commandstats`
 * before and after it. Redis 7.0 counts FCALL as one command whatever the
 * function, so a scenario's row is the mean over the functions it ran (the
 * benchmark's own set-up calls included); a scenario that runs one function
 * for nearly all its calls (the Join scenarios) gives that function's cost.
 * The per-function comparison on a quiet Redis is `bench/script-cost.ts`.
 */
export class FcallLedger {
  readonly #redis: Redis;
  readonly #rows: FcallRow[] = [];

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  get rows(): readonly FcallRow[] {
    return this.#rows;
  }

  /** Runs `body` and records the FCALLs Redis served meanwhile. */
  async around<T>(scenario: string, body: () => Promise<T>): Promise<T> {
    const before = await this.#snapshot();
    const result = await body();
    const after = await this.#snapshot();
    const delta = (name: string): CommandStat => {
      const a = after.get(name) ?? { calls: 0, usec: 0 };
      const b = before.get(name) ?? { calls: 0, usec: 0 };
      return { calls: a.calls - b.calls, usec: a.usec - b.usec };
    };
    this.#rows.push({ scenario, fcall: delta("fcall"), fcallRo: delta("fcall_ro") });
    return result;
  }

  async #snapshot(): Promise<Snapshot> {
    const stats = new Map<string, CommandStat>();
    for (const match of (await this.#redis.info("commandstats")).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+),/gm)) {
      stats.set(match[1] ?? "", { calls: Number(match[2]), usec: Number(match[3]) });
    }
    return stats;
  }
}

export function fcallTable(rows: readonly FcallRow[]): string {
  const perCall = (s: CommandStat): string => (s.calls > 0 ? (s.usec / s.calls).toFixed(2) : "–");
  return table(
    ["Scenario", "FCALL calls", "FCALL usec_per_call", "FCALL_RO calls", "FCALL_RO usec_per_call"],
    rows.map((r) => [r.scenario, String(r.fcall.calls), perCall(r.fcall), String(r.fcallRo.calls), perCall(r.fcallRo)]),
  );
}
